"""Chat conversations: who owns each thread, and which checkpoint is its last good turn."""
