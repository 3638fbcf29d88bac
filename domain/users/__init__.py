"""Users: accounts, profiles and study preferences."""
