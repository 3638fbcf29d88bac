"""HTTP adapter: the FastAPI app, its dependencies, error rendering and routes."""
