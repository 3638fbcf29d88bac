"""Temporal workflows and activities for long study plans, reminders and scheduled agent jobs."""
