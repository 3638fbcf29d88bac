"""In-app notifications: what a delivered reminder, a re-plan or a scheduled agent job tells the
student; read through the API and pushed live as `notification` events."""
