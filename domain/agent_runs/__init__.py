"""Every agent run, recorded: usage limits, evals and cost reports read these."""
