"""Re-runs the processing of uploads left `processing` (their process died): a Temporal Schedule
runs one activity at a time that processes them again, with Temporal's retries."""
