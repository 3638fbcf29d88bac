"""Re-queues note and resource embeddings left `pending` (a crash after the write): a Temporal
Schedule runs one activity at a time that embeds them, with Temporal's retries."""
