"""Courses, their ordered modules, enrollment and per-user module completion."""
