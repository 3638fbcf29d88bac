"""The websocket: one push channel per client for chat, progress, plans and notifications."""
