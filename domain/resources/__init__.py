"""Learning resources with full-text, semantic and hybrid search."""
