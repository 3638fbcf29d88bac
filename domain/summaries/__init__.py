"""Summaries of notes and courses, cached by content hash and prompt version."""
