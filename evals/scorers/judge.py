"""Model-judged rubrics: a judge model rates each chat and summary answer on helpfulness,
teaching and faithfulness to the material the agent was shown, 1 to 5 each, at temperature 0,
with the versioned prompt `evals/judge`. Each rating becomes a soft score (`judge.<criterion>`,
0..1) whose explanation names the judge's model and prompt version.

The judge talks through its own wire: its requests never reach the hard gates, which read only
what the agent sent."""

import json
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agents.llm import provider_errors
from agents.structured import StructuredMethod, structured_answer
from core.errors import AppError
from evals.scorers.base import Evidence, Score
from prompts.loader import load_prompt

JUDGE_PROMPT = "evals/judge"
JUDGED_SUITES = frozenset({"chat", "summary"})
# What the agent was shown is cut to this many characters: enough to check claims against.
MAX_MATERIAL_CHARS = 12_000


class Rating(BaseModel):
    rating: int = Field(ge=1, le=5)
    reason: str


class RubricVerdict(BaseModel):
    helpfulness: Rating
    teaching: Rating
    faithfulness: Rating


CRITERIA = tuple(RubricVerdict.model_fields)


@dataclass(frozen=True)
class Judge:
    model: BaseChatModel
    name: str
    method: StructuredMethod

    async def scores(self, evidence: Evidence) -> list[Score]:
        case, answer = evidence.case, evidence.outcome.answer
        if case.suite not in JUDGED_SUITES or not answer:
            return []
        prompt = load_prompt(JUDGE_PROMPT)
        request = [turn.message for turn in case.turns] or [f"summarise {case.subject}"]
        data = {
            "request": request,
            "material": evidence.sent_by_us()[:MAX_MATERIAL_CHARS],
            "answer": answer,
        }
        messages = [
            SystemMessage(prompt.render()),
            HumanMessage(json.dumps(data, ensure_ascii=False)),
        ]
        by = f"{self.name}, {prompt.ref}"
        try:
            with provider_errors():
                verdict = await structured_answer(self.model, RubricVerdict, messages, self.method)
        except AppError as exc:
            # A judge that cannot answer scores nothing; the case is not failed for it.
            why = f"no rating ({by}): {exc.code}: {exc.message}"
            return [Score(f"judge.{c}", "score", True, None, why) for c in CRITERIA]
        ratings: dict[str, Rating] = {c: getattr(verdict, c) for c in CRITERIA}
        return [
            Score(
                f"judge.{criterion}",
                "score",
                True,
                (rating.rating - 1) / 4,
                f"{rating.rating}/5 ({by}): {rating.reason}",
            )
            for criterion, rating in ratings.items()
        ]
