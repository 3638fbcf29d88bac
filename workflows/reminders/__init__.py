"""Reminder delivery: one workflow per reminder, a movable durable timer, one delivery activity."""
