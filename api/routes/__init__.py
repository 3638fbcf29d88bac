"""Route modules, one per resource, all mounted under /api/v1."""
