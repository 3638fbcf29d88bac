"""Voice on LiveKit: participant tokens, webhook verification and the voice agent worker."""
