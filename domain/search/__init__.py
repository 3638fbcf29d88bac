"""Ranked retrieval shared by every searchable feature: full text, vectors, and their fusion."""
