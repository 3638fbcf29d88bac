"""The Embedder interface, its providers, and the embedding state of searchable rows."""
