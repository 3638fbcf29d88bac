"""Shared infrastructure: settings, database, security, pagination, rate limiting, logging."""
