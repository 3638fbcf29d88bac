"""Markdown notes, optionally linked to a course or module, searchable by text and meaning."""
