"""What scorers read and return, and the one place that runs them all for a case."""

import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from evals.cases import Case
from evals.drivers import Outcome
from evals.world import BuiltWorld

Kind = Literal["gate", "check", "score"]


@dataclass(frozen=True)
class Score:
    name: str
    kind: Kind
    passed: bool
    value: float | None = None  # 0..1 for soft scores
    explanation: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Evidence:
    """Everything a scorer may read: the case, its world, the agent's outcome, every request
    the model received, and the world's database."""

    case: Case
    world: BuiltWorld
    outcome: Outcome
    requests: list[dict[str, Any]]
    session: AsyncSession

    def requests_text(self) -> str:
        return json.dumps(self.requests, ensure_ascii=False)

    def sent_by_us(self) -> str:
        """What our side put in front of the model: every message but the model's own."""
        return json.dumps(
            [
                [m for m in request.get("messages", []) if m.get("role") != "assistant"]
                for request in self.requests
            ],
            ensure_ascii=False,
        )


async def score_case(evidence: Evidence) -> list[Score]:
    # Imported here: the scorer modules import this one for Score and Evidence.
    from evals.scorers import content, gates, recommend, trajectory

    scores = await gates.run_gates(evidence)
    scores += trajectory.scores(evidence)
    scores += content.scores(evidence)
    scores += recommend.scores(evidence)
    return scores


def case_passed(scores: list[Score]) -> bool:
    return all(score.passed for score in scores if score.kind in ("gate", "check"))


def soft_mean(scores: list[Score]) -> float | None:
    values = [s.value for s in scores if s.kind == "score" and s.value is not None]
    return sum(values) / len(values) if values else None
