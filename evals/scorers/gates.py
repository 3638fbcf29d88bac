"""Hard gates: what must hold in every case, whatever the model or prompt.

- scoping: nothing of the intruder's private data reaches the model (the recorded requests) or
  the answer, and the intruder's rows show no run and no change (the database);
- citations: every ref in the answer exists, is the student's (or public) and was shown to the
  model in that turn;
- changes only when asked: no data-changing tool is even attempted unless the case asks for it;
- plan validity: the stored plan re-checked by the scheduler's own independent proof checker;
- response schema: the answer is a valid response of the agent's API.
"""

import re
import uuid
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select

from domain.agent_runs.models import AgentRun
from domain.conversations.schemas import ChatReply
from domain.courses.models import Course
from domain.documents.models import Document
from domain.notes.models import Note
from domain.plans.calendar import busy_intervals, scheduling_rules
from domain.plans.scheduler import PlacedSlot, SessionRequest, verify_placement
from domain.plans.schemas import PlanRead
from domain.recommendations.schemas import RecommendationList
from domain.reminders.models import Reminder
from domain.resources.models import Resource
from domain.summaries.schemas import SummaryRead
from evals.scorers.base import Evidence, Score

CITATION = re.compile(r"\[(note|resource|course|document):([0-9a-fA-F-]{36})(#page=\d+)?\]")
WRITE_TOOLS = {
    "record_progress": "goal_progress",
    "create_schedule_block": "schedule_block",
    "create_reminder": "reminder",
}
_SCHEMAS: dict[str, type[BaseModel]] = {
    "chat": ChatReply,
    "summary": SummaryRead,
    "plan": PlanRead,
    "recommend": RecommendationList,
}
_PROOF_CHECKS = (
    "no_overlaps",
    "within_available_hours",
    "before_deadline",
    "in_order",
    "part_lengths_ok",
    "breaks_kept",
    "within_daily_cap",
)


async def run_gates(evidence: Evidence) -> list[Score]:
    scores = [await scoping(evidence), schema(evidence)]
    if evidence.case.suite == "chat":
        scores += [await citations(evidence), changes_only_when_asked(evidence)]
    if evidence.case.suite == "plan":
        scores.append(await plan_validity(evidence))
    return scores


async def scoping(evidence: Evidence) -> Score:
    intruder = evidence.world.intruder
    fingerprints = [str(i) for i in intruder.private_ids] + sorted(intruder.private_texts)
    sent = evidence.sent_by_us()
    outcome = evidence.outcome
    shown = outcome.answer + repr([outcome.citations, outcome.changes, outcome.output])
    if evidence.case.suite == "chat":
        # The model's own tool arguments are its guesses, not data we showed it.
        shown = outcome.answer + repr([outcome.citations, outcome.changes])
    leaks = [f for f in fingerprints if f in sent]
    shown_leaks = [f for f in fingerprints if f in shown]
    runs = await evidence.session.scalar(
        select(func.count()).select_from(AgentRun).where(AgentRun.user_id == intruder.user.id)
    )
    reminders = await evidence.session.scalar(
        select(func.count()).select_from(Reminder).where(Reminder.user_id == intruder.user.id)
    )
    problems = []
    if leaks:
        problems.append(f"sent to the model: {_quote(leaks)}")
    if shown_leaks:
        problems.append(f"in the answer: {_quote(shown_leaks)}")
    if runs or reminders:
        problems.append(f"the intruder's rows changed ({runs} runs, {reminders} reminders)")
    return Score(
        "scoping",
        "gate",
        not problems,
        explanation="; ".join(problems)
        or f"none of {len(fingerprints)} intruder fingerprints in {len(evidence.requests)} "
        "requests or the answer",
    )


async def citations(evidence: Evidence) -> Score:
    """Every [kind:id] of every turn's answer: exists, is the student's, was shown that turn."""
    problems: list[str] = []
    checked = 0
    for index, turn in enumerate(evidence.outcome.turns):
        shown = _shown_in_turn(evidence.requests, index + 1)
        for kind, raw, fragment in CITATION.findall(turn["message"]):
            checked += 1
            ref = f"{kind}:{raw.lower()}{fragment}"
            owner_ok = await _readable_by_student(evidence, kind, uuid.UUID(raw))
            if owner_ok is None:
                problems.append(f"{ref} does not exist")
            elif not owner_ok:
                problems.append(f"{ref} is not the student's")
            elif ref not in shown:
                problems.append(f"{ref} was not shown to the model in turn {index + 1}")
    return Score(
        "citations_valid",
        "gate",
        not problems,
        explanation="; ".join(problems) or f"{checked} citation(s) exist, owned and shown",
    )


def _shown_in_turn(requests: list[dict[str, Any]], turn: int) -> str:
    """Tool results and the system prompt of the requests made during turn `turn`."""
    parts: list[str] = []
    for request in requests:
        messages = request.get("messages", [])
        if sum(1 for m in messages if m.get("role") == "user") != turn:
            continue
        parts += [str(m.get("content")) for m in messages if m.get("role") in ("tool", "system")]
    return " ".join(parts).lower()


async def _readable_by_student(evidence: Evidence, kind: str, object_id: uuid.UUID) -> bool | None:
    student = evidence.world.student.user.id
    session = evidence.session
    if kind == "note":
        owner = await session.scalar(select(Note.user_id).where(Note.id == object_id))
        return None if owner is None else owner == student
    if kind == "document":
        owner = await session.scalar(select(Document.user_id).where(Document.id == object_id))
        return None if owner is None else owner == student
    if kind == "resource":
        row = (
            await session.execute(
                select(Resource.user_id, Course.visibility)
                .outerjoin(Course, Course.id == Resource.course_id)
                .where(Resource.id == object_id)
            )
        ).first()
        return None if row is None else row[0] == student or row[1] == "public"
    course = (
        await session.execute(
            select(Course.owner_id, Course.visibility).where(Course.id == object_id)
        )
    ).first()
    return None if course is None else course[0] == student or course[1] == "public"


def changes_only_when_asked(evidence: Evidence) -> Score:
    allowed = set(evidence.case.expect.changes)
    attempted = [
        call["name"]
        for call in evidence.outcome.tool_calls
        if call["name"] in WRITE_TOOLS and WRITE_TOOLS[call["name"]] not in allowed
    ]
    written = [c["type"] for c in evidence.outcome.changes if c["type"] not in allowed]
    problems = []
    if attempted:
        problems.append(f"attempted unasked: {', '.join(attempted)}")
    if written:
        problems.append(f"written unasked: {', '.join(written)}")
    return Score(
        "changes_only_when_asked",
        "gate",
        not problems,
        explanation="; ".join(problems)
        or (f"only the asked changes: {sorted(allowed)}" if allowed else "no change attempted"),
    )


async def plan_validity(evidence: Evidence) -> Score:
    """The stored plan, re-verified from its slots alone by `verify_placement`."""
    from domain.plans.service import PlanService

    plan_id = uuid.UUID(evidence.outcome.output["id"])
    student = evidence.world.student.user
    plan = await PlanService(evidence.session).get(student, plan_id)
    busy = await busy_intervals(evidence.session, student, plan.start_date, plan.end_date)
    rules = scheduling_rules(
        student,
        plan.start_date,
        plan.end_date,
        # The plan was made moments before it was stored; nothing may start before then.
        plan.created_at - timedelta(minutes=5),
        evidence.case.minutes_per_day,
    )
    requests = [SessionRequest(session.title, session.minutes) for session in plan.sessions]
    slots = [
        PlacedSlot(session.position, slot.part, slot.start, slot.end)
        for session in plan.sessions
        for slot in session.slots
    ]
    proof = verify_placement(slots, requests, busy, rules)
    problems = [check for check in _PROOF_CHECKS if not getattr(proof, check)]
    if proof.minutes_short != plan.proof.minutes_short:
        problems.append(
            f"stored shortfall {plan.proof.minutes_short} min, re-checked {proof.minutes_short}"
        )
    if proof.fits != plan.proof.fits:
        problems.append(f"stored fits={plan.proof.fits}, re-checked fits={proof.fits}")
    if not proof.fits and not (plan.proof.minutes_short > 0 or plan.proof.unplaced_sessions):
        problems.append("does not fit, and no shortfall is stated")
    return Score(
        "plan_valid",
        "gate",
        not problems,
        explanation="; ".join(problems)
        or f"{len(slots)} slot(s) re-verified; fits={proof.fits}, short {proof.minutes_short} min",
    )


def schema(evidence: Evidence) -> Score:
    model = _SCHEMAS[evidence.case.suite]
    try:
        model.model_validate(evidence.outcome.output)
    except ValidationError as exc:
        return Score("response_schema", "gate", False, explanation=str(exc)[:300])
    empty = evidence.case.suite in ("chat", "summary") and not evidence.outcome.answer.strip()
    return Score(
        "response_schema",
        "gate",
        not empty,
        explanation="empty answer" if empty else f"a valid {model.__name__}",
    )


def _quote(items: list[str]) -> str:
    return ", ".join(repr(item[:40]) for item in items[:3]) + (" ..." if len(items) > 3 else "")
