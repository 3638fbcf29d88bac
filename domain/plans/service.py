"""Study plan rules: a model drafts what to study, the scheduler decides when, and nothing reaches
the calendar until the student accepts the draft.

- The subject is the caller's own goal or a course they may read; anything else answers 404.
- The plan covers whole days of the user's zone, from today at the earliest, for at most
  `MAX_PLAN_DAYS` days after its first.
- Every stored plan carries the scheduler's proof. A draft that does not fit is stored and
  answered with `fits: false` and what is missing, never silently shortened.
- Accepting writes one study block per slot, and a reminder before each slot still ahead, only
  while every slot is still free; a clash writes nothing.
"""

import contextlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from core.after_commit import defer_until_commit
from core.briefs import clip_description
from core.errors import (
    AppError,
    ConflictError,
    LLMProviderError,
    LLMUnavailableError,
    NotFoundError,
)
from core.events import Event, queue_event
from core.pagination import Page, PageParams
from domain.courses.repository import CourseRepository
from domain.courses.service import CourseDetailView, CourseNotFoundError, CourseService
from domain.documents.outline import course_outline
from domain.goals.repository import GoalRepository
from domain.goals.service import GoalService, GoalView
from domain.notifications.service import NotificationService
from domain.plans.briefs import (
    DraftedSession,
    PlanBrief,
    PlanCourse,
    PlanDrafter,
    PlanGoal,
    PlanModule,
    PlanWindow,
)
from domain.plans.calendar import busy_intervals, scheduling_rules
from domain.plans.fallback import FallbackModule, fallback_sessions
from domain.plans.models import PlanReplanProposal, PlanSession, StudyPlan
from domain.plans.replan import OwedSession, ReplanAsk, ReplanBrief, ReplanDraft, replan_notice
from domain.plans.repository import PlanRepository
from domain.plans.scheduler import (
    PlacedSlot,
    PlacementProof,
    SessionRequest,
    place_sessions,
    verify_placement,
)
from domain.plans.schemas import (
    MAX_PLAN_DAYS,
    PlanAccept,
    PlanCreate,
    PlanProof,
    PlanRead,
    PlanSessionRead,
    PlanSlotRead,
    PlanSummary,
    PlanUpdate,
    ProposedSession,
    ProposedSlot,
    ReplanProposalRead,
)
from domain.plans.tracking import PlanTrack, PlanTracker, TrackedSlot
from domain.reminders.schemas import ReminderCreate
from domain.reminders.service import ReminderService
from domain.reminders.timers import ReminderTimers
from domain.schedule.schemas import ScheduleBlockCreate
from domain.schedule.service import ScheduleService
from domain.users.models import User

DRAFT = "draft"
ACCEPTED = "accepted"
CANCELLED = "cancelled"
# Without an end date or a goal deadline, a plan covers two weeks.
DEFAULT_PLAN_DAYS = 14
# Far enough ahead for a term's plan; further out, the calendar it is fitted to means little.
MAX_START_AHEAD_DAYS = 365
REMINDER_LEAD_MINUTES = 15


class PlanRequestError(AppError):
    """A 422 found past schema validation, in the same shape: `details` lists the bad field."""

    status_code = 422
    code = "validation_error"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(
            "The request has invalid or missing fields.",
            [{"loc": ["body", field], "message": message, "type": "value_error"}],
        )


class PlanNotFoundError(NotFoundError):
    def __init__(self) -> None:
        super().__init__("Plan not found.")


class PlanNotDraftError(ConflictError):
    code = "plan_not_draft"

    def __init__(self, status: str) -> None:
        super().__init__(
            f"This plan is {status}; only a draft can be accepted or deleted.", {"status": status}
        )


class PlanNotActiveError(ConflictError):
    code = "plan_not_active"

    def __init__(self, status: str) -> None:
        super().__init__(
            f"This plan is {status}; only an accepted plan can be cancelled or re-planned.",
            {"status": status},
        )


class ReplanProposalNotFoundError(NotFoundError):
    def __init__(self) -> None:
        super().__init__("Re-plan proposal not found.")


class ReplanProposalStaleError(ConflictError):
    code = "replan_proposal_stale"

    def __init__(self, why: str) -> None:
        super().__init__(
            f"This re-plan proposal no longer applies: {why}. Nothing was written.",
            {"reason": why},
        )


class ReplanResult(BaseModel):
    replanned: bool
    # A re-plan stored as a proposal (`auto_replan` off): nothing changed yet.
    proposed: bool = False
    # Every slot of the plan with a block, after the re-plan: what the workflow follows.
    slots: list[TrackedSlot]


class PlanConflictsError(ConflictError):
    code = "plan_conflicts"

    def __init__(self, clashes: list[dict[str, Any]]) -> None:
        super().__init__(
            "Your schedule changed since this plan was drafted: some of its slots are taken "
            "now. Nothing was written; draft a new plan.",
            {"slots": clashes},
        )


@dataclass(frozen=True)
class _Subject:
    goal_id: uuid.UUID | None
    course_id: uuid.UUID | None
    title: str
    goal: PlanGoal | None
    course: PlanCourse | None
    remaining_minutes: int | None


def _utc_now() -> datetime:
    return datetime.now(UTC)


class PlanService:
    def __init__(
        self,
        session: AsyncSession,
        now: Callable[[], datetime] = _utc_now,
        *,
        reminder_timers: ReminderTimers | None = None,
        tracker: PlanTracker | None = None,
    ) -> None:
        """`reminder_timers`, `tracker`: the workflow engine's ports (None without one: the
        plan is written, and not followed)."""
        self.session = session
        self.plans = PlanRepository(session)
        self.now = now
        self.reminder_timers = reminder_timers
        self.tracker = tracker

    async def create_draft(
        self,
        user: User,
        request: PlanCreate,
        drafter: PlanDrafter,
        release: Callable[[], Awaitable[None]],
    ) -> PlanRead:
        """Drafts sessions with the model, places them in the user's free time and stores the
        draft with its proof. Everything the model is not needed for is checked before it runs,
        so a refused request costs no tokens.

        `release` is awaited once the brief is read and before the model is called: the
        caller's unit of work lets its connection go for the model's whole wait. What the
        placement depends on is read again after it (the subject may be gone, the calendar
        changed). A model whose draft cannot be used does not fail the request: the sessions
        are then drafted from the course's modules and the work left (`drafted_by: fallback`).
        """
        now = self.now()
        today = now.astimezone(ZoneInfo(user.timezone)).date()
        start = _start_date(request.start_date, today)
        subject = await self._subject(user, request)
        end = _end_date(request.end_date, start, subject.goal.target_date if subject.goal else None)
        rules = scheduling_rules(user, start, end, now, request.minutes_per_day)
        brief = PlanBrief(
            goal=subject.goal,
            course=subject.course,
            remaining_minutes=subject.remaining_minutes,
            window=PlanWindow(
                timezone=user.timezone,
                today=today,
                start_date=start,
                end_date=end,
                minutes_per_day=rules.max_daily_minutes,
                session_minutes=rules.session_minutes,
            ),
        )
        await release()
        drafted_by, fallback_reason = "model", None
        try:
            drafted = await drafter.draft(brief)
        except (LLMProviderError, LLMUnavailableError) as exc:
            drafted = _fallback_draft(subject.title, brief)
            drafted_by, fallback_reason = "fallback", _fallback_reason(exc)
        subject = await self._subject(user, request)
        modules_now = subject.course.module_ids() if subject.course else set()
        busy = await busy_intervals(self.session, user, start, end)
        placement = place_sessions(
            [SessionRequest(d.title, d.minutes, d.preferred_start) for d in drafted], busy, rules
        )
        plan = StudyPlan(
            user_id=user.id,
            goal_id=subject.goal_id,
            course_id=subject.course_id,
            title=subject.title,
            status=DRAFT,
            timezone=user.timezone,
            start_date=start,
            end_date=end,
            fits=placement.proof.fits,
            proof=_proof_json(placement.proof),
            model=drafter.model_name,
            prompt_version=drafter.prompt_version,
            drafted_by=drafted_by,
            fallback_reason=fallback_reason,
            sessions=[
                PlanSession(
                    position=position,
                    title=session.title,
                    objective=session.objective,
                    # A module deleted while the model worked is no longer linked.
                    module_id=session.module_id if session.module_id in modules_now else None,
                    minutes=session.minutes,
                    slots=_slots_json(placement.slots, position),
                )
                for position, session in enumerate(drafted)
            ],
        )
        await self.plans.add(plan)
        return plan_read(plan)

    async def list_plans(self, user: User, params: PageParams) -> Page[PlanSummary]:
        """Newest first."""
        plans, cursor = await self.plans.list_page(user.id, params)
        return Page[PlanSummary](items=[plan_summary(plan) for plan in plans], next_cursor=cursor)

    async def get(self, user: User, plan_id: uuid.UUID) -> PlanRead:
        plan = await self._owned(user, plan_id)
        return plan_read(plan, await self.plans.pending_proposal(plan.id))

    async def accept(
        self, user: User, plan_id: uuid.UUID, settings: PlanAccept | None = None
    ) -> PlanRead:
        """Writes the draft into the schedule, if every slot is still free."""
        plan = await self._owned(user, plan_id, for_update=True)
        _require_draft(plan)
        clashes = await self._clashes(user, plan)
        if clashes:
            raise PlanConflictsError(clashes)
        now = self.now()
        course_id = await self._linkable_course(user, plan.course_id)
        for planned in plan.sessions:
            # A new list: the ORM does not notice changes made inside a JSON value.
            planned.slots = await self._write_slots(
                user, plan, planned, planned.slots, course_id, now
            )
        plan.status = ACCEPTED
        plan.accepted_at = now
        if settings is not None and settings.auto_replan is not None:
            plan.auto_replan = settings.auto_replan
        await self.session.flush()
        if self.tracker is not None:
            tracker, track = self.tracker, _track(plan)
            defer_until_commit(self.session, lambda: tracker.start(track))
        return plan_read(plan)

    async def update(self, user: User, plan_id: uuid.UUID, changes: PlanUpdate) -> PlanRead:
        """Settings of a draft or a followed plan; a pending proposal stays acceptable."""
        plan = await self._owned(user, plan_id, for_update=True)
        plan.auto_replan = changes.auto_replan
        await self.session.flush()
        return plan_read(plan, await self.plans.pending_proposal(plan.id))

    async def _write_slots(
        self,
        user: User,
        plan: StudyPlan,
        planned: PlanSession,
        slots: list[dict[str, Any]],
        course_id: uuid.UUID | None,
        now: datetime,
    ) -> list[dict[str, Any]]:
        """A study block per slot, and a reminder before each one still ahead."""
        schedule = ScheduleService(self.session)
        reminders = ReminderService(self.session, self.reminder_timers)
        written = []
        for slot in slots:
            start, end = _instant(slot["starts_at"]), _instant(slot["ends_at"])
            block = await schedule.create(
                user,
                ScheduleBlockCreate(
                    title=planned.title,
                    start=start,
                    end=end,
                    kind="study",
                    goal_id=plan.goal_id,
                    course_id=course_id,
                ),
            )
            remind_at = start - timedelta(minutes=REMINDER_LEAD_MINUTES)
            if remind_at > now:
                await reminders.create(
                    user,
                    ReminderCreate(
                        remind_at=remind_at,
                        message=f"{planned.title} starts in {REMINDER_LEAD_MINUTES} minutes.",
                        schedule_block_id=block.id,
                    ),
                )
            written.append({**slot, "schedule_block_id": str(block.id)})
        return written

    async def cancel(self, user: User, plan_id: uuid.UUID) -> PlanRead:
        """Stops an accepted plan: its sessions still ahead leave the schedule (with their
        reminders), the past ones stay, and its workflow ends."""
        plan = await self._owned(user, plan_id, for_update=True)
        if plan.status != ACCEPTED:
            raise PlanNotActiveError(plan.status)
        await self._remove_future_slots(user, plan, self.now())
        # A re-plan proposed for a plan no longer followed has nothing left to apply.
        await self.plans.supersede_pending(plan.id)
        plan.status = CANCELLED
        await self.session.flush()
        if self.tracker is not None:
            tracker = self.tracker
            defer_until_commit(self.session, lambda: tracker.cancel(plan_id))
        return plan_read(plan)

    async def _remove_future_slots(
        self, user: User, plan: StudyPlan, now: datetime, also: frozenset[str] = frozenset()
    ) -> dict[int, int]:
        """Deletes the blocks of slots starting after `now` (and of the slots whose block ids
        are in `also`), with their reminders; returns the minutes taken off each session."""
        schedule = ScheduleService(self.session)
        removed: dict[int, int] = {}
        for planned in plan.sessions:
            kept = []
            for slot in planned.slots:
                block_id = slot.get("schedule_block_id")
                if _owed(slot, now, also):
                    # Already gone when the student deleted the block.
                    with contextlib.suppress(NotFoundError):
                        await schedule.delete(user, uuid.UUID(block_id))
                    removed[planned.position] = removed.get(planned.position, 0) + _minutes(slot)
                else:
                    kept.append(slot)
            planned.slots = kept
        return removed

    async def replan_ask(
        self, plan_id: uuid.UUID, missed_block_ids: list[uuid.UUID]
    ) -> ReplanAsk | None:
        """What the plan agent is told before a re-plan: the plan's subject and progress, the
        days left, what was missed and what is owed. None when there is nothing to re-plan (the
        plan is gone or no longer accepted, or nothing is owed). Reads only."""
        plan = await self.plans.get(plan_id)
        if plan is None or plan.status != ACCEPTED:
            return None
        user = await self.session.get(User, plan.user_id)
        assert user is not None  # the plan's foreign key
        now, also = self.now(), _block_ids(missed_block_ids)
        minutes = _owed_minutes(plan, now, also)
        if not minutes:
            return None
        owed = [
            OwedSession(p.title, p.objective, minutes[p.position], p.module_id)
            for p in plan.sessions
            if p.position in minutes
        ]
        done = [
            planned.title
            for planned in plan.sessions
            for slot in planned.slots
            if slot.get("schedule_block_id") and not _owed(slot, now, also)
        ]
        today = now.astimezone(ZoneInfo(user.timezone)).date()
        end = max(plan.end_date, today)
        rules = scheduling_rules(user, today, end, now)
        goal = (
            _plan_goal(await GoalService(self.session, self.now).get(user, plan.goal_id))
            if plan.goal_id is not None
            else None
        )
        detail = await self._readable_course(user, plan.course_id)
        course = await self._plan_course(user, detail) if detail else None
        brief = ReplanBrief(
            goal=goal,
            course=course,
            remaining_minutes=_remaining_minutes(goal, course),
            window=PlanWindow(
                timezone=user.timezone,
                today=today,
                start_date=today,
                end_date=end,
                minutes_per_day=rules.max_daily_minutes,
                session_minutes=rules.session_minutes,
            ),
            missed_sessions=len(missed_block_ids),
            done=done,
            owed=owed,
            minutes_owed=sum(session.minutes for session in owed),
        )
        return ReplanAsk(user.id, brief)

    async def replan(
        self,
        plan_id: uuid.UUID,
        missed_block_ids: list[uuid.UUID],
        draft: ReplanDraft | None = None,
    ) -> ReplanResult:
        """After missed sessions: the missed and the future sittings are to leave the schedule;
        what they held is replaced by the agent's redraft when `draft` is usable, else placed
        again as it was, by the scheduler in the calendar as it is now (from now to the plan's
        end), and proved. With `auto_replan` on, that is written at once as new blocks and
        reminders; with it off, it is stored as a proposal the student may accept. Either way
        the student is told what changed and why. For the plan's workflow, which acts for the
        plan's owner."""
        plan = await self.plans.get(plan_id, for_update=True)
        if plan is None or plan.status != ACCEPTED:
            return ReplanResult(replanned=False, slots=[])
        user = await self.session.get(User, plan.user_id)
        assert user is not None  # the plan's foreign key
        now = self.now()
        replaced = _owed_block_ids(plan, now, _block_ids(missed_block_ids))
        if not replaced:
            return ReplanResult(replanned=False, slots=_tracked_slots(plan))
        owed = _owed_minutes(plan, now, replaced)
        redrafted = draft is not None and draft.usable
        sessions, proof = await self._replacement(user, plan, now, replaced, owed, draft)
        summary = replan_notice(
            plan.title,
            len(missed_block_ids),
            sum(owed.values()),
            draft,
            proof.minutes_placed,
            sum(len(session.slots) for session in sessions),
            proof.minutes_short,
        )
        replanned_by = "agent" if redrafted else "scheduler"
        notifications = NotificationService(self.session)
        if not plan.auto_replan:
            await self.plans.supersede_pending(plan.id)
            proposal = await self.plans.add_proposal(
                PlanReplanProposal(
                    plan_id=plan.id,
                    user_id=user.id,
                    replanned_by=replanned_by,
                    summary=summary,
                    replaced_block_ids=sorted(replaced),
                    sessions=[session.model_dump(mode="json") for session in sessions],
                    proof=_proof_json(proof),
                )
            )
            await notifications.notify(
                user.id,
                "plan",
                "A re-plan is proposed",
                f"{summary} Nothing changed yet: accept the proposal to apply it.",
                data={
                    "plan_id": str(plan.id),
                    "proposal_id": str(proposal.id),
                    "replanned_by": replanned_by,
                },
            )
            self._plan_updated(plan, proposal)
            return ReplanResult(replanned=False, proposed=True, slots=_tracked_slots(plan))
        await self._apply(user, plan, now, replaced, sessions, redrafted)
        plan.proof, plan.fits = _proof_json(proof), proof.fits
        await self.session.flush()
        await notifications.notify(
            user.id,
            "plan",
            "Your plan was re-planned",
            summary,
            data={"plan_id": str(plan.id), "replanned_by": replanned_by},
        )
        self._plan_updated(plan)
        return ReplanResult(replanned=True, slots=_tracked_slots(plan))

    async def accept_replan(
        self, user: User, plan_id: uuid.UUID, proposal_id: uuid.UUID
    ) -> PlanRead:
        """Applies a pending re-plan proposal, if its slots are all still ahead and free (the
        blocks it replaces aside); then the plan's workflow follows the new slots."""
        plan = await self._owned(user, plan_id, for_update=True)
        proposal = await self.plans.proposal_owned(user.id, plan_id, proposal_id)
        if proposal is None:
            raise ReplanProposalNotFoundError()
        if plan.status != ACCEPTED:
            raise PlanNotActiveError(plan.status)
        if proposal.status != "pending":
            raise ReplanProposalStaleError(f"it was {proposal.status}")
        if plan.goal_id is not None and await GoalRepository(self.session).progress_since(
            plan.goal_id, proposal.created_at
        ):
            raise ReplanProposalStaleError("progress was recorded on the goal since")
        now = self.now()
        replaced = frozenset(proposal.replaced_block_ids)
        sessions = [ProposedSession.model_validate(raw) for raw in proposal.sessions]
        proof, clashes = await self._recheck(user, plan, now, replaced, sessions)
        if clashes:
            raise PlanConflictsError(clashes)
        await self._apply(user, plan, now, replaced, sessions, proposal.replanned_by == "agent")
        plan.proof, plan.fits = _proof_json(proof), proof.fits
        proposal.status = "applied"
        await self.session.flush()
        self._plan_updated(plan)
        if self.tracker is not None:
            tracker, slots = self.tracker, _tracked_slots(plan)
            defer_until_commit(self.session, lambda: tracker.replanned(plan_id, slots))
        return plan_read(plan)

    async def _replacement(
        self,
        user: User,
        plan: StudyPlan,
        now: datetime,
        replaced: frozenset[str],
        owed: dict[int, int],
        draft: ReplanDraft | None,
    ) -> tuple[list[ProposedSession], PlacementProof]:
        """What replaces the owed sittings, placed by the scheduler around everything else in
        the calendar, with the proof."""
        if draft is not None and draft.usable:
            sessions = [
                ProposedSession(
                    position=None,
                    title=session.title,
                    objective=session.objective,
                    minutes=session.minutes,
                    module_id=session.module_id,
                    slots=[],
                )
                for session in draft.sessions or []
            ]
            hints = [session.preferred_start for session in draft.sessions or []]
        else:
            sessions = [
                ProposedSession(
                    position=planned.position,
                    title=planned.title,
                    objective=planned.objective,
                    minutes=owed[planned.position],
                    module_id=planned.module_id,
                    slots=[],
                )
                for planned in plan.sessions
                if owed.get(planned.position)
            ]
            hints = [None] * len(sessions)
        today = now.astimezone(ZoneInfo(user.timezone)).date()
        end = max(plan.end_date, today)
        busy = await busy_intervals(self.session, user, today, end, exclude=_uuids(replaced))
        placement = place_sessions(
            [
                SessionRequest(session.title, session.minutes, hint)
                for session, hint in zip(sessions, hints, strict=True)
            ],
            busy,
            scheduling_rules(user, today, end, now),
        )
        for index, session in enumerate(sessions):
            session.slots = [
                ProposedSlot(part=slot.part, start=slot.start, end=slot.end)
                for slot in placement.slots
                if slot.session_index == index
            ]
        return sessions, placement.proof

    async def _recheck(
        self,
        user: User,
        plan: StudyPlan,
        now: datetime,
        replaced: frozenset[str],
        sessions: list[ProposedSession],
    ) -> tuple[PlacementProof, list[dict[str, Any]]]:
        """The proposal's slots against the calendar as it is now, by the scheduler's own
        checker: the proof, and the slots taken since or no longer ahead."""
        today = now.astimezone(ZoneInfo(user.timezone)).date()
        end = max(plan.end_date, today)
        busy = await busy_intervals(self.session, user, today, end, exclude=_uuids(replaced))
        placed = [
            PlacedSlot(index, slot.part, slot.start, slot.end)
            for index, session in enumerate(sessions)
            for slot in session.slots
        ]
        requests = [SessionRequest(session.title, session.minutes) for session in sessions]
        proof = verify_placement(placed, requests, busy, scheduling_rules(user, today, end, now))
        zone = ZoneInfo(plan.timezone)
        clashes = [
            {
                "position": session.position,
                "title": session.title,
                "part": slot.part,
                "start": slot.start.astimezone(zone).isoformat(),
                "end": slot.end.astimezone(zone).isoformat(),
            }
            for session in sessions
            for slot in session.slots
            if slot.start <= now
            or any(taken.start < slot.end and slot.start < taken.end for taken in busy)
        ]
        return proof, clashes

    async def _apply(
        self,
        user: User,
        plan: StudyPlan,
        now: datetime,
        replaced: frozenset[str],
        sessions: list[ProposedSession],
        redrafted: bool,
    ) -> None:
        """Removes the replaced sittings (with their reminders) and writes the new ones."""
        await self._remove_future_slots(user, plan, now, replaced)
        await self.session.flush()
        if redrafted:
            targets = await self._redrafted_sessions(user, plan, sessions)
        else:
            by_position = {planned.position: planned for planned in plan.sessions}
            targets = [
                by_position[session.position]
                for session in sessions
                if session.position is not None
            ]
        course_id = await self._linkable_course(user, plan.course_id)
        for planned, session in zip(targets, sessions, strict=True):
            fresh = [
                {
                    "part": slot.part,
                    "starts_at": slot.start.astimezone(UTC).isoformat(),
                    "ends_at": slot.end.astimezone(UTC).isoformat(),
                    "schedule_block_id": None,
                }
                for slot in session.slots
            ]
            planned.slots = [
                *planned.slots,
                *await self._write_slots(user, plan, planned, fresh, course_id, now),
            ]
        await self.session.flush()

    async def _redrafted_sessions(
        self, user: User, plan: StudyPlan, sessions: list[ProposedSession]
    ) -> list[PlanSession]:
        """The redraft replaces what is left: sessions with no sitting kept go, the redrafted
        ones follow the kept ones in study order."""
        detail = await self._readable_course(user, plan.course_id)
        # A module deleted while the model worked (or the proposal waited) is no longer linked.
        modules_now = {module.id for module in detail.modules} if detail else set()
        after = max((planned.position for planned in plan.sessions), default=-1) + 1
        fresh = [
            PlanSession(
                position=after + index,
                title=session.title,
                objective=session.objective,
                module_id=session.module_id if session.module_id in modules_now else None,
                minutes=session.minutes,
                slots=[],
            )
            for index, session in enumerate(sessions)
        ]
        plan.sessions = [*[planned for planned in plan.sessions if planned.slots], *fresh]
        await self.session.flush()
        return fresh

    def _plan_updated(self, plan: StudyPlan, proposal: PlanReplanProposal | None = None) -> None:
        read = plan_read(plan, proposal)
        queue_event(
            self.session,
            Event(plan.user_id, "plans", "plan.updated", read.model_dump(mode="json")),
        )

    async def accepted_plan_ids(self, goal_id: uuid.UUID) -> list[uuid.UUID]:
        """The goal's plans being followed (progress on the goal goes to their workflows)."""
        return await self.plans.accepted_for_goal(goal_id)

    async def delete(self, user: User, plan_id: uuid.UUID) -> None:
        plan = await self._owned(user, plan_id, for_update=True)
        _require_draft(plan)
        await self.plans.delete(plan)

    async def _owned(
        self, user: User, plan_id: uuid.UUID, *, for_update: bool = False
    ) -> StudyPlan:
        plan = await self.plans.get_owned(user.id, plan_id, for_update=for_update)
        if plan is None:
            raise PlanNotFoundError()
        return plan

    async def _subject(self, user: User, request: PlanCreate) -> _Subject:
        if request.goal_id is not None:
            view = await GoalService(self.session, self.now).get(user, request.goal_id)
            detail = await self._readable_course(user, view.goal.course_id)
            goal = _plan_goal(view)
            course = await self._plan_course(user, detail) if detail else None
            return _Subject(
                goal_id=view.goal.id,
                course_id=detail.course.id if detail else None,
                title=view.goal.title,
                goal=goal,
                course=course,
                remaining_minutes=_remaining_minutes(goal, course),
            )
        assert request.course_id is not None  # PlanCreate holds exactly one subject
        detail = await CourseService(self.session).detail(user.id, request.course_id)
        course = await self._plan_course(user, detail)
        return _Subject(
            goal_id=None,
            course_id=detail.course.id,
            title=detail.course.title,
            goal=None,
            course=course,
            remaining_minutes=_remaining_minutes(None, course),
        )

    async def _plan_course(self, user: User, detail: CourseDetailView) -> PlanCourse:
        course = _plan_course(detail)
        if course.modules:
            return course
        outline = await course_outline(self.session, user.id, detail.course.id)
        return replace(course, outline=outline)

    async def _readable_course(
        self, user: User, course_id: uuid.UUID | None
    ) -> CourseDetailView | None:
        if course_id is None:
            return None
        try:
            return await CourseService(self.session).detail(user.id, course_id)
        except CourseNotFoundError:
            # The goal's course has turned private since; the goal is planned without it.
            return None

    async def _linkable_course(self, user: User, course_id: uuid.UUID | None) -> uuid.UUID | None:
        # A public course can be planned for, but schedule blocks link only to courses the
        # user owns or is enrolled in; the blocks then link to the goal alone, if any.
        if course_id is None or not await CourseRepository(self.session).usable_by(
            user.id, course_id
        ):
            return None
        return course_id

    async def _clashes(self, user: User, plan: StudyPlan) -> list[dict[str, Any]]:
        """The plan's slots that overlap the user's schedule as it is now."""
        placed = [(planned, slot) for planned in plan.sessions for slot in planned.slots]
        if not placed:
            return []
        user_zone, plan_zone = ZoneInfo(user.timezone), ZoneInfo(plan.timezone)
        first = min(_instant(slot["starts_at"]) for _, slot in placed)
        last = max(_instant(slot["ends_at"]) for _, slot in placed)
        busy = await busy_intervals(
            self.session,
            user,
            first.astimezone(user_zone).date(),
            last.astimezone(user_zone).date(),
        )
        clashes = []
        for planned, slot in placed:
            start, end = _instant(slot["starts_at"]), _instant(slot["ends_at"])
            if any(taken.start < end and start < taken.end for taken in busy):
                clashes.append(
                    {
                        "session_id": str(planned.id),
                        "position": planned.position,
                        "title": planned.title,
                        "part": slot["part"],
                        "start": start.astimezone(plan_zone).isoformat(),
                        "end": end.astimezone(plan_zone).isoformat(),
                    }
                )
        return clashes


def _start_date(requested: date | None, today: date) -> date:
    if requested is None:
        return today
    if requested < today:
        raise PlanRequestError("start_date", "must not be before today in your time zone")
    if requested > today + timedelta(days=MAX_START_AHEAD_DAYS):
        raise PlanRequestError(
            "start_date", f"must be at most {MAX_START_AHEAD_DAYS} days after today"
        )
    return requested


def _end_date(requested: date | None, start: date, deadline: date | None) -> date:
    if requested is not None:
        if requested < start:
            raise PlanRequestError("end_date", "must not be before start_date")
        if (requested - start).days > MAX_PLAN_DAYS:
            raise PlanRequestError(
                "end_date", f"must be at most {MAX_PLAN_DAYS} days after start_date"
            )
        return requested
    if deadline is None:
        return start + timedelta(days=DEFAULT_PLAN_DAYS - 1)
    if deadline < start:
        raise PlanRequestError(
            "end_date", "the goal's target date is before start_date; give an end_date"
        )
    # A deadline further out than a plan may reach: the plan covers its first stretch.
    return min(deadline, start + timedelta(days=MAX_PLAN_DAYS))


def _plan_goal(view: GoalView) -> PlanGoal:
    goal = view.goal
    return PlanGoal(
        title=goal.title,
        description=clip_description(goal.description),
        target_date=goal.target_date,
        target_minutes=goal.target_minutes,
        target_modules=goal.target_modules,
        minutes_done=view.progress.minutes_done,
        modules_done=view.progress.modules_done,
    )


def _plan_course(detail: CourseDetailView) -> PlanCourse:
    return PlanCourse(
        title=detail.course.title,
        description=clip_description(detail.course.description),
        modules=[
            PlanModule(
                id=module.id,
                title=module.title,
                estimated_minutes=module.estimated_minutes,
                completed=module.id in detail.completions,
            )
            for module in detail.modules
        ],
    )


def _remaining_minutes(goal: PlanGoal | None, course: PlanCourse | None) -> int | None:
    """Minutes still to study, where known: the goal's target left, else the course's estimates
    of modules not completed yet."""
    if goal is not None and goal.target_minutes is not None:
        return max(0, goal.target_minutes - goal.minutes_done)
    if course is None:
        return None
    estimates = [m.estimated_minutes for m in course.modules if not m.completed]
    known = [minutes for minutes in estimates if minutes is not None]
    return sum(known) if known else None


def _fallback_draft(subject_title: str, brief: PlanBrief) -> list[DraftedSession]:
    open_modules = [m for m in brief.course.modules if not m.completed] if brief.course else []
    sessions = fallback_sessions(
        subject_title,
        [FallbackModule(m.title, m.estimated_minutes) for m in open_modules],
        brief.remaining_minutes,
        brief.window.session_minutes,
        outline=brief.course.outline if brief.course else [],
    )
    return [
        DraftedSession(
            title=session.title,
            objective=session.objective,
            minutes=session.minutes,
            module_id=(
                open_modules[session.module_index].id if session.module_index is not None else None
            ),
        )
        for session in sessions
    ]


def _fallback_reason(exc: LLMProviderError | LLMUnavailableError) -> str:
    if isinstance(exc, LLMUnavailableError):
        return (
            "The language model could not be reached in time, so this plan was drafted from the "
            "course's modules and the work left."
        )
    return (
        "The language model's draft could not be used, so this plan was drafted from the "
        "course's modules and the work left."
    )


def _require_draft(plan: StudyPlan) -> None:
    if plan.status != DRAFT:
        raise PlanNotDraftError(plan.status)


def _tracked_slots(plan: StudyPlan) -> list[TrackedSlot]:
    slots = [
        TrackedSlot(
            block_id=uuid.UUID(slot["schedule_block_id"]),
            start=_instant(slot["starts_at"]),
            end=_instant(slot["ends_at"]),
        )
        for planned in plan.sessions
        for slot in planned.slots
        if slot.get("schedule_block_id")
    ]
    return sorted(slots, key=lambda slot: slot.start)


def _track(plan: StudyPlan) -> PlanTrack:
    """The accepted plan as its workflow follows it: until the end of its last day."""
    zone = ZoneInfo(plan.timezone)
    ends_at = datetime.combine(plan.end_date + timedelta(days=1), time(0), tzinfo=zone)
    return PlanTrack(
        plan_id=plan.id,
        user_id=plan.user_id,
        slots=_tracked_slots(plan),
        ends_at=ends_at.astimezone(UTC),
    )


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _owed(slot: dict[str, Any], now: datetime, missed: frozenset[str]) -> bool:
    """A written sitting still to do: ahead of `now`, or among the missed ones."""
    block_id = slot.get("schedule_block_id")
    return block_id is not None and (_instant(slot["starts_at"]) > now or block_id in missed)


def _minutes(slot: dict[str, Any]) -> int:
    return int((_instant(slot["ends_at"]) - _instant(slot["starts_at"])).total_seconds() // 60)


def _block_ids(ids: list[uuid.UUID]) -> frozenset[str]:
    return frozenset(str(block_id) for block_id in ids)


def _uuids(ids: frozenset[str]) -> frozenset[uuid.UUID]:
    return frozenset(uuid.UUID(block_id) for block_id in ids)


def _owed_block_ids(plan: StudyPlan, now: datetime, missed: frozenset[str]) -> frozenset[str]:
    return frozenset(
        slot["schedule_block_id"]
        for planned in plan.sessions
        for slot in planned.slots
        if _owed(slot, now, missed)
    )


def _owed_minutes(plan: StudyPlan, now: datetime, missed: frozenset[str]) -> dict[int, int]:
    """Minutes of each session's sittings still to do, by session position."""
    owed: dict[int, int] = {}
    for planned in plan.sessions:
        minutes = sum(_minutes(slot) for slot in planned.slots if _owed(slot, now, missed))
        if minutes:
            owed[planned.position] = minutes
    return owed


def _slots_json(slots: Sequence[PlacedSlot], position: int) -> list[dict[str, Any]]:
    return [
        {
            "part": slot.part,
            "starts_at": slot.start.astimezone(UTC).isoformat(),
            "ends_at": slot.end.astimezone(UTC).isoformat(),
            "schedule_block_id": None,
        }
        for slot in slots
        if slot.session_index == position
    ]


def _proof_json(proof: PlacementProof) -> dict[str, Any]:
    return PlanProof.model_validate(asdict(proof)).model_dump(mode="json")


def plan_summary(plan: StudyPlan) -> PlanSummary:
    return PlanSummary.model_validate(_summary_fields(plan))


def plan_read(plan: StudyPlan, proposal: PlanReplanProposal | None = None) -> PlanRead:
    """The plan with every time in the plan's zone, and its pending re-plan proposal."""
    zone = ZoneInfo(plan.timezone)
    return PlanRead.model_validate(
        {
            **_summary_fields(plan),
            "replan_proposal": _proposal_read(proposal, zone) if proposal else None,
            "sessions": [
                PlanSessionRead(
                    id=planned.id,
                    position=planned.position,
                    title=planned.title,
                    objective=planned.objective,
                    module_id=planned.module_id,
                    minutes=planned.minutes,
                    slots=[
                        PlanSlotRead(
                            part=slot["part"],
                            start=_instant(slot["starts_at"]).astimezone(zone),
                            end=_instant(slot["ends_at"]).astimezone(zone),
                            schedule_block_id=slot["schedule_block_id"],
                        )
                        for slot in planned.slots
                    ],
                )
                for planned in plan.sessions
            ],
        }
    )


def _proposal_read(proposal: PlanReplanProposal, zone: ZoneInfo) -> ReplanProposalRead:
    read = ReplanProposalRead.model_validate(
        {
            "id": proposal.id,
            "created_at": proposal.created_at,
            "replanned_by": proposal.replanned_by,
            "summary": proposal.summary,
            "replaced_block_ids": proposal.replaced_block_ids,
            "sessions": proposal.sessions,
            "proof": proposal.proof,
        }
    )
    for session in read.sessions:
        for slot in session.slots:
            slot.start, slot.end = slot.start.astimezone(zone), slot.end.astimezone(zone)
    return read


def _summary_fields(plan: StudyPlan) -> dict[str, Any]:
    return {
        "id": plan.id,
        "status": plan.status,
        "title": plan.title,
        "goal_id": plan.goal_id,
        "course_id": plan.course_id,
        "start_date": plan.start_date,
        "end_date": plan.end_date,
        "timezone": plan.timezone,
        "proof": plan.proof,
        "model": plan.model,
        "prompt_version": plan.prompt_version,
        "drafted_by": plan.drafted_by,
        "fallback_reason": plan.fallback_reason,
        "auto_replan": plan.auto_replan,
        "created_at": plan.created_at,
        "accepted_at": plan.accepted_at,
    }
