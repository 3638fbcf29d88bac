"""Reminders tied to a schedule block or a goal; delivery runs in workflows."""
