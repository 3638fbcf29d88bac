"""Baseline against candidate, paired per case.

- Pass/fail: a case passes in a run when most of its repeats pass. Cases that flipped are
  listed first. The exact McNemar test (a two-sided binomial test on the discordant pairs) says
  whether the flips lean one way more than chance would.
- Soft scores: per case, the mean over repeats; the paired bootstrap (cases resampled with
  replacement, seeded) gives a 95% interval of the mean difference.
- Verdict: non-inferior when the lower end of the 95% interval of the pass-rate difference is
  above -margin, and so is that of the soft-score difference, and no hard gate failed in the
  candidate.
- What the sample can detect: with N paired cases, McNemar cannot reach p < alpha with fewer
  than `min_flips` one-way flips, so no difference smaller than min_flips / N can be shown.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ALPHA = 0.05
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 20_251_201
DEFAULT_MARGIN = 0.03


@dataclass(frozen=True)
class CaseResult:
    """One repeat of one case, as stored."""

    case_id: str
    repeat: int
    passed: bool
    gates_passed: bool
    soft_score: float | None
    scores: list[dict[str, Any]]
    transcript: dict[str, Any]


@dataclass(frozen=True)
class CaseSummary:
    case_id: str
    passed: bool
    pass_rate: float
    gates_passed: bool
    soft_score: float | None
    failed_scores: list[str]
    answer: str


@dataclass(frozen=True)
class CasePair:
    case_id: str
    baseline: CaseSummary
    candidate: CaseSummary

    @property
    def change(self) -> str:
        if self.baseline.passed and not self.candidate.passed:
            return "regressed"
        if self.candidate.passed and not self.baseline.passed:
            return "improved"
        return "same"


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class Comparison:
    cases: int
    baseline_pass_rate: float
    candidate_pass_rate: float
    regressed: int
    improved: int
    mcnemar_p: float
    pass_rate_difference: Interval
    soft_score_difference: Interval | None
    candidate_gate_failures: int
    baseline_gate_failures: int
    margin: float
    non_inferior: bool
    verdict: str
    detectable: str
    pairs: list[CasePair] = field(default_factory=list)
    only_in_baseline: list[str] = field(default_factory=list)
    only_in_candidate: list[str] = field(default_factory=list)


def summarise(results: Sequence[CaseResult]) -> dict[str, CaseSummary]:
    by_case: dict[str, list[CaseResult]] = defaultdict(list)
    for result in results:
        by_case[result.case_id].append(result)
    summaries = {}
    for case_id, repeats in by_case.items():
        passes = sum(r.passed for r in repeats)
        softs = [r.soft_score for r in repeats if r.soft_score is not None]
        failed = sorted(
            {
                s["name"]
                for r in repeats
                for s in r.scores
                if not s["passed"] and s["kind"] != "score"
            }
        )
        summaries[case_id] = CaseSummary(
            case_id=case_id,
            passed=passes * 2 > len(repeats),
            pass_rate=passes / len(repeats),
            gates_passed=all(r.gates_passed for r in repeats),
            soft_score=sum(softs) / len(softs) if softs else None,
            failed_scores=failed,
            answer=str(repeats[0].transcript.get("answer", "")),
        )
    return summaries


def mcnemar_exact(regressed: int, improved: int) -> float:
    # Imported here: scipy.stats takes seconds to load, and only comparisons need it.
    from scipy.stats import binomtest

    discordant = regressed + improved
    if discordant == 0:
        return 1.0
    return float(binomtest(min(regressed, improved), discordant, 0.5).pvalue)


def min_flips(alpha: float = ALPHA) -> int:
    """Fewest one-way flips with which the two-sided exact McNemar test can reach p < alpha."""
    flips = 1
    while mcnemar_exact(flips, 0) >= alpha:
        flips += 1
    return flips


def paired_bootstrap(differences: Sequence[float], seed: int = BOOTSTRAP_SEED) -> Interval:
    values = np.asarray(differences, dtype=float)
    if values.size == 0:
        return Interval(0.0, 0.0, 0.0)
    rng = np.random.default_rng(seed)
    samples = rng.choice(values, size=(BOOTSTRAP_RESAMPLES, values.size), replace=True)
    means = samples.mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return Interval(float(values.mean()), float(low), float(high))


def compare(
    baseline: Sequence[CaseResult],
    candidate: Sequence[CaseResult],
    margin: float = DEFAULT_MARGIN,
) -> Comparison:
    base, cand = summarise(baseline), summarise(candidate)
    shared = sorted(base.keys() & cand.keys())
    pairs = [CasePair(case_id, base[case_id], cand[case_id]) for case_id in shared]
    regressed = sum(p.change == "regressed" for p in pairs)
    improved = sum(p.change == "improved" for p in pairs)
    pass_diff = paired_bootstrap(
        [float(p.candidate.passed) - float(p.baseline.passed) for p in pairs]
    )
    soft_pairs = [
        p.candidate.soft_score - p.baseline.soft_score
        for p in pairs
        if p.candidate.soft_score is not None and p.baseline.soft_score is not None
    ]
    soft_diff = paired_bootstrap(soft_pairs) if soft_pairs else None
    candidate_gates = sum(not p.candidate.gates_passed for p in pairs)
    baseline_gates = sum(not p.baseline.gates_passed for p in pairs)
    non_inferior = (
        bool(pairs)
        and pass_diff.low > -margin
        and (soft_diff is None or soft_diff.low > -margin)
        and candidate_gates == 0
    )
    p_value = mcnemar_exact(regressed, improved)
    order = {"regressed": 0, "improved": 1, "same": 2}
    pairs.sort(key=lambda p: (order[p.change], p.case_id))
    return Comparison(
        cases=len(pairs),
        baseline_pass_rate=_rate(p.baseline.passed for p in pairs),
        candidate_pass_rate=_rate(p.candidate.passed for p in pairs),
        regressed=regressed,
        improved=improved,
        mcnemar_p=p_value,
        pass_rate_difference=pass_diff,
        soft_score_difference=soft_diff,
        candidate_gate_failures=candidate_gates,
        baseline_gate_failures=baseline_gates,
        margin=margin,
        non_inferior=non_inferior,
        verdict=_verdict(non_inferior, candidate_gates, regressed, improved, p_value, pairs),
        detectable=_detectable(len(pairs), regressed + improved),
        pairs=pairs,
        only_in_baseline=sorted(base.keys() - cand.keys()),
        only_in_candidate=sorted(cand.keys() - base.keys()),
    )


def _rate(values: Any) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0


def _verdict(
    non_inferior: bool,
    gate_failures: int,
    regressed: int,
    improved: int,
    p_value: float,
    pairs: list[CasePair],
) -> str:
    if not pairs:
        return "No case ran in both runs: nothing to compare."
    if gate_failures:
        return f"REGRESSION: {gate_failures} case(s) fail a hard gate in the candidate."
    if not non_inferior:
        return (
            f"REGRESSION: non-inferiority not shown ({regressed} case(s) regressed, "
            f"{improved} improved, McNemar p={p_value:.3g})."
        )
    if improved and p_value < ALPHA:
        return f"IMPROVEMENT: {improved} case(s) improved, {regressed} regressed (p={p_value:.3g})."
    return "NO REGRESSION: the candidate is not worse than the baseline beyond the margin."


def _detectable(cases: int, discordant: int) -> str:
    if cases == 0:
        return "No paired cases."
    flips = min_flips()
    smallest = flips / cases
    return (
        f"With {cases} paired cases, McNemar needs at least {flips} one-way flips to reach "
        f"p < {ALPHA}: no pass-rate difference below {smallest:.0%} can be shown. "
        f"Observed: {discordant} flipped case(s) ({discordant / cases:.0%})."
    )
