"""Study plans: a model drafts what to study, a deterministic scheduler decides when."""
