"""Recommendations: relevance@k against the case's relevant resources, and honesty when nothing
relevant exists (no pick at all, rather than invented relevance)."""

from evals.scorers.base import Evidence, Score


def scores(evidence: Evidence) -> list[Score]:
    if evidence.case.suite != "recommend":
        return []
    expect = evidence.case.expect
    picked = [item["resource"]["id"] for item in evidence.outcome.output.get("items", [])]
    found: list[Score] = []
    if expect.nothing_relevant:
        found.append(
            Score(
                "nothing_relevant_honesty",
                "check",
                not picked,
                1.0 if not picked else 0.0,
                "no pick" if not picked else f"picked {len(picked)} irrelevant resource(s)",
            )
        )
        found.append(Score("honesty", "score", not picked, 1.0 if not picked else 0.0))
    if expect.relevant:
        relevant = {str(evidence.world.resolve(handle)) for handle in expect.relevant}
        k = evidence.case.limit
        hits = [p for p in picked[:k] if p in relevant]
        precision = len(hits) / len(picked[:k]) if picked else 0.0
        recall = len(hits) / min(k, len(relevant))
        found.append(
            Score(
                "relevant_found",
                "check",
                recall >= 1.0 and precision >= 0.5,
                recall,
                f"{len(hits)} relevant of {len(picked[:k])} picked; "
                f"precision@{k} {precision:.2f}, recall@{k} {recall:.2f}",
            )
        )
        found.append(Score("precision_at_k", "score", precision >= 0.5, precision))
    return found
