"""Expectations on what the agent said and did: phrases, citations, changes, summary facts and
faithfulness, plan fit."""

import re

from evals.scorers.base import Evidence, Score
from evals.scripted_model import words_of

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
# A summary sentence counts as supported when this share of its words occur in the source.
SUPPORTED_SHARE = 0.6


def scores(evidence: Evidence) -> list[Score]:
    expect = evidence.case.expect
    answer = evidence.outcome.answer
    found: list[Score] = []
    if expect.says:
        missing = [s for s in expect.says if s.lower() not in answer.lower()]
        found.append(Score("says", "check", not missing, explanation=_missing("phrases", missing)))
    if expect.never_says:
        said = [s for s in expect.never_says if s.lower() in answer.lower()]
        found.append(
            Score(
                "never_says",
                "check",
                not said,
                explanation=f"said: {said}" if said else "none of the forbidden phrases",
            )
        )
    if expect.cites:
        cited = {c["id"] for c in evidence.outcome.citations}
        wanted = {h: str(evidence.world.resolve(h)) for h in expect.cites}
        missing = [h for h, object_id in wanted.items() if object_id not in cited]
        found.append(
            Score("cites", "check", not missing, explanation=_missing("citations", missing))
        )
        found.append(Score("citation_recall", "score", not missing, 1 - len(missing) / len(wanted)))
    if expect.changes:
        made = {c["type"] for c in evidence.outcome.changes}
        missing = [c for c in expect.changes if c not in made]
        found.append(
            Score("changes_made", "check", not missing, explanation=_missing("changes", missing))
        )
    if expect.facts:
        covered = [f for f in expect.facts if f.lower() in answer.lower()]
        share = len(covered) / len(expect.facts)
        missing = [f for f in expect.facts if f not in covered]
        found.append(
            Score(
                "key_facts",
                "check",
                share >= expect.min_facts,
                share,
                f"{len(covered)}/{len(expect.facts)} facts; " + _missing("facts", missing),
            )
        )
        found.append(Score("facts_coverage", "score", share >= expect.min_facts, share))
    if evidence.case.suite == "summary":
        found.append(faithfulness(evidence))
    if evidence.case.suite == "plan" and evidence.outcome.output:
        proof = evidence.outcome.output["proof"]
        needed = proof["minutes_needed"]
        share = proof["minutes_placed"] / needed if needed else 1.0
        found.append(
            Score(
                "minutes_placed",
                "score",
                proof["minutes_short"] == 0,
                share,
                f"{proof['minutes_placed']} of {needed} minutes placed",
            )
        )
    if expect.fits is not None:
        fits = bool(evidence.outcome.output["proof"]["fits"])
        short = evidence.outcome.output["proof"]["minutes_short"]
        found.append(
            Score(
                "plan_fits_as_expected",
                "check",
                fits == expect.fits,
                explanation=f"fits={fits} (short {short} min), expected fits={expect.fits}",
            )
        )
    if expect.sessions_min is not None:
        count = len(evidence.outcome.output["sessions"])
        found.append(
            Score(
                "plan_sessions",
                "check",
                count >= expect.sessions_min,
                explanation=f"{count} session(s), at least {expect.sessions_min} expected",
            )
        )
    return found


def faithfulness(evidence: Evidence) -> Score:
    """Share of the summary's sentences supported by the source text the model was sent."""
    source = words_of(evidence.requests_text())
    sentences = [s for s in _SENTENCE.split(evidence.outcome.answer) if words_of(s)]
    unsupported = [
        s for s in sentences if len(words_of(s) & source) / len(words_of(s)) < SUPPORTED_SHARE
    ]
    value = 1 - len(unsupported) / len(sentences) if sentences else 0.0
    return Score(
        "faithfulness",
        "score",
        not unsupported,
        value,
        f"unsupported: {unsupported[0][:80]!r}" if unsupported else "every sentence supported",
    )


def _missing(what: str, missing: list[str]) -> str:
    return f"missing {what}: {missing}" if missing else f"all expected {what}"
