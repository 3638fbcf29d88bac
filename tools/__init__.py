"""LangChain tools: thin, user-scoped wrappers over domain services."""
