"""The comparison's statistics against values computed by hand."""

import pytest
from scipy.stats import binomtest

from domain.evals.comparison import (
    CaseResult,
    compare,
    mcnemar_exact,
    min_flips,
    paired_bootstrap,
)


def _results(outcomes: list[bool], soft: list[float] | None = None) -> list[CaseResult]:
    return [
        CaseResult(
            case_id=f"case-{n:02d}",
            repeat=0,
            passed=passed,
            gates_passed=True,
            soft_score=None if soft is None else soft[n],
            scores=[],
            transcript={},
        )
        for n, passed in enumerate(outcomes)
    ]


def test_mcnemar_exact_is_the_two_sided_binomial_test_on_the_flips() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    # Six one-way flips: 2 * 0.5**6.
    assert mcnemar_exact(6, 0) == pytest.approx(0.03125)
    assert mcnemar_exact(3, 5) == pytest.approx(binomtest(3, 8, 0.5).pvalue)
    assert mcnemar_exact(4, 4) == 1.0


def test_six_one_way_flips_is_the_least_the_test_can_see_at_five_percent() -> None:
    assert min_flips() == 6
    assert mcnemar_exact(5, 0) > 0.05


def test_the_bootstrap_of_constant_differences_is_that_constant() -> None:
    interval = paired_bootstrap([0.0] * 25)
    assert (interval.mean, interval.low, interval.high) == (0.0, 0.0, 0.0)


def test_the_bootstrap_interval_contains_the_mean_and_is_seeded() -> None:
    differences = [0.1, -0.2, 0.3, 0.0, 0.05, -0.1, 0.2, 0.15]
    first, second = paired_bootstrap(differences), paired_bootstrap(differences)
    assert first == second
    assert first.low < first.mean < first.high
    assert first.mean == pytest.approx(sum(differences) / len(differences))


def test_a_run_against_itself_is_non_inferior_with_no_flips() -> None:
    results = _results([True] * 20 + [False] * 5, [0.8] * 25)
    comparison = compare(results, results)
    assert (comparison.regressed, comparison.improved) == (0, 0)
    assert comparison.non_inferior
    assert comparison.verdict.startswith("NO REGRESSION")


def test_one_way_flips_fail_non_inferiority_and_come_first() -> None:
    baseline = _results([True] * 25)
    candidate = _results([True] * 17 + [False] * 8)
    comparison = compare(baseline, candidate)
    assert comparison.regressed == 8
    assert comparison.mcnemar_p == pytest.approx(2 * 0.5**8)
    assert not comparison.non_inferior
    assert comparison.pass_rate_difference.mean == pytest.approx(-8 / 25)
    assert [p.change for p in comparison.pairs[:8]] == ["regressed"] * 8
    assert "25 paired cases" in comparison.detectable
    assert "24%" in comparison.detectable  # 6 / 25


def test_a_small_soft_score_drop_inside_the_margin_is_non_inferior() -> None:
    baseline = _results([True] * 30, [0.90] * 30)
    candidate = _results([True] * 30, [0.89] * 30)
    comparison = compare(baseline, candidate, margin=0.03)
    assert comparison.soft_score_difference is not None
    assert comparison.soft_score_difference.low == pytest.approx(-0.01)
    assert comparison.non_inferior


def test_a_soft_score_drop_beyond_the_margin_is_a_regression() -> None:
    baseline = _results([True] * 30, [0.90] * 30)
    candidate = _results([True] * 30, [0.80] * 30)
    assert not compare(baseline, candidate, margin=0.03).non_inferior


def test_a_hard_gate_failure_in_the_candidate_is_a_regression_whatever_the_rates() -> None:
    baseline = _results([True] * 10)
    candidate = [
        CaseResult(r.case_id, 0, r.passed, r.case_id != "case-03", None, [], {})
        for r in _results([True] * 10)
    ]
    comparison = compare(baseline, candidate)
    assert comparison.candidate_gate_failures == 1
    assert not comparison.non_inferior
    assert "hard gate" in comparison.verdict


def test_repeats_are_folded_per_case_by_majority() -> None:
    repeats = [
        CaseResult("a", 0, True, True, 1.0, [], {}),
        CaseResult("a", 1, False, True, 0.0, [], {}),
        CaseResult("a", 2, True, True, 0.5, [], {}),
    ]
    pair = compare(repeats, repeats).pairs[0]
    assert pair.baseline.passed
    assert pair.baseline.pass_rate == pytest.approx(2 / 3)
    assert pair.baseline.soft_score == pytest.approx(0.5)
