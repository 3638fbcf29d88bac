"""LangChain tools for the agents: thin, user-scoped wrappers over the domain services.

Every tool reads the caller from its runtime context (`ToolContext`), never from its arguments,
so a model cannot act as another user whatever ids it passes.
"""
