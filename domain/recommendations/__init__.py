"""Resource recommendations: candidates from embeddings, re-ranked and explained by a model."""
