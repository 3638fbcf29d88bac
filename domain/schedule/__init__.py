"""Time blocks with RFC 5545 recurrence, per-occurrence exceptions and conflict reports."""
