"""Tool trajectory against the expected one, with the reason when it does not match.

Modes: `strict` (same calls, same order), `unordered` (same calls, any order), `subset` (every
actual call was expected; some may be missing), `superset` (every expected call was made; more
are allowed). Arguments match by rule: a literal (equal), `"*"` (anything), `"~text"`
(contains, case-insensitive) or `"@handle"` (the id of that world object).
"""

from typing import Any

from evals.cases import ToolExpectation
from evals.scorers.base import Evidence, Score
from evals.world import BuiltWorld


def scores(evidence: Evidence) -> list[Score]:
    expected = evidence.case.expect.tools
    if expected is None:
        return []
    actual = [{"name": c["name"], "args": c["args"]} for c in evidence.outcome.tool_calls]
    passed, value, why = match(actual, expected, evidence.world)
    return [
        Score(f"tools_{expected.match}", "check", passed, explanation=why),
        Score("tool_trajectory", "score", passed, value, why),
    ]


def match(
    actual: list[dict[str, Any]], expected: ToolExpectation, world: BuiltWorld | None = None
) -> tuple[bool, float, str]:
    """(passed, share of expected calls matched, why)."""
    wanted = expected.calls
    if expected.match == "strict":
        problems = []
        for index in range(max(len(actual), len(wanted))):
            if index >= len(actual):
                problems.append(f"call {index + 1}: expected {_name(wanted[index])}, none made")
            elif index >= len(wanted):
                problems.append(f"call {index + 1}: unexpected {actual[index]['name']}")
            elif why := _mismatch(actual[index], wanted[index], world):
                problems.append(f"call {index + 1}: {why}")
        hits = sum(
            1 for a, w in zip(actual, wanted, strict=False) if _mismatch(a, w, world) is None
        )
        value = hits / max(len(wanted), len(actual)) if (wanted or actual) else 1.0
        return not problems, value, "; ".join(problems) or "same calls in the same order"
    unmatched_actual = list(actual)
    missing: list[str] = []
    for want in wanted:
        found = next((a for a in unmatched_actual if _mismatch(a, want, world) is None), None)
        if found is None:
            near = [
                _mismatch(a, want, world) for a in unmatched_actual if a["name"] == want["name"]
            ]
            missing.append(f"{_name(want)} not made" + (f" ({near[0]})" if near else ""))
        else:
            unmatched_actual.remove(found)
    extra = [a["name"] for a in unmatched_actual]
    matched = len(wanted) - len(missing)
    value = matched / len(wanted) if wanted else (1.0 if not extra else 0.0)
    problems = []
    if missing and expected.match in ("unordered", "superset"):
        problems.append("missing: " + "; ".join(missing))
    if extra and expected.match in ("unordered", "subset"):
        problems.append("unexpected: " + ", ".join(extra))
    return not problems, value, "; ".join(problems) or f"{expected.match} match"


def _name(call: dict[str, Any]) -> str:
    return str(call["name"])


def _mismatch(
    actual: dict[str, Any], wanted: dict[str, Any], world: BuiltWorld | None
) -> str | None:
    if actual["name"] != wanted["name"]:
        return f"expected {wanted['name']}, got {actual['name']}"
    for arg, rule in (wanted.get("args") or {}).items():
        value = actual["args"].get(arg)
        if not _arg_matches(value, rule, world):
            return f"{wanted['name']}.{arg}={value!r} does not match {rule!r}"
    return None


def _arg_matches(value: Any, rule: Any, world: BuiltWorld | None) -> bool:
    if rule == "*":
        return value is not None
    if isinstance(rule, str) and rule.startswith("~"):
        return rule[1:].lower() in str(value).lower()
    if isinstance(rule, str) and rule.startswith("@") and world is not None:
        return str(value) == str(world.resolve(rule[1:]))
    return bool(value == rule)
