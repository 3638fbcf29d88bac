"""Following an accepted study plan: progress, missed sessions, re-plans, cancel, status."""
