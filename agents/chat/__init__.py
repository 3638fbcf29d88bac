"""The chat agent: a tool-using graph over the student's courses, goals, notes and schedule."""
