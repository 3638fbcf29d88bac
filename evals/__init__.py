"""Eval suites over the agents and their versioned prompts."""
