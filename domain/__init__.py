"""Feature folders: models, repository (all SQL), service (the rules), schemas."""
