"""Authentication: password login and rotating refresh-token families."""
