"""The scheduled agent jobs' content: a morning agenda and a weekly review, built from the
student's own data as facts, told either in fixed words or by the model (docs/workflows.md)."""
