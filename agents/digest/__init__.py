"""The scheduled jobs' writer: the model words a morning agenda or weekly review from facts."""
