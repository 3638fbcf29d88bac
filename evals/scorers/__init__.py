"""Scorers: hard gates (every case, no statistics), expectation checks (pass/fail, compared with
McNemar) and soft scores (0..1, compared with a paired bootstrap).

Every scorer returns `Score`s with a readable explanation of why it failed.
"""

from evals.scorers.base import Evidence, Score, case_passed, score_case, soft_mean

__all__ = ["Evidence", "Score", "case_passed", "score_case", "soft_mean"]
