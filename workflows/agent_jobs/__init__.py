"""Scheduled agent jobs: a Temporal Schedule per user and job starts a short workflow that
builds the digest and delivers it as a notification."""
