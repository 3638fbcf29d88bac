"""LangGraph agents (chat, summary, plan, recommend) built over the domain services."""
