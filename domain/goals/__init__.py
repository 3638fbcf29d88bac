"""Learning goals and the progress events their derived progress is computed from."""
