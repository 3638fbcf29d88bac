"""Morning agenda and weekly review: the facts from the student's own data (the same services
the API and the chat tools use), and their deterministic wording, which is what the student gets
when no model is configured or the model fails."""

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.pagination import PageParams
from domain.digests.repository import DigestRepository
from domain.digests.schemas import (
    AgendaBlock,
    Digest,
    GoalStanding,
    GoalWeek,
    MorningAgendaFacts,
    WeeklyReviewFacts,
)
from domain.goals import progress
from domain.goals.service import GoalService, GoalView
from domain.schedule.recurrence import local_day_bounds
from domain.schedule.service import ScheduleService
from domain.users.models import User

DUE_SOON_DAYS = 7
# A goal that got less than this share of its planned minutes this week is proposed a re-plan.
BEHIND_SHARE = 0.8
MAX_GOALS = 100


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _standing(view: GoalView) -> GoalStanding:
    return GoalStanding(
        goal_id=view.goal.id,
        title=view.goal.title,
        target_date=view.goal.target_date,
        percent=view.progress.percent,
        streak_days=view.progress.streak_days,
        on_track=view.progress.on_track,
    )


class DigestService:
    def __init__(self, session: AsyncSession, now: Callable[[], datetime] = _utc_now) -> None:
        self.session = session
        self.now = now

    def _today(self, user: User) -> date:
        return progress.local_date(self.now(), progress.user_zone(user.timezone))

    async def _active_goals(self, user: User) -> list[GoalView]:
        goals = GoalService(self.session, now=self.now)
        views, _ = await goals.list_goals(user, PageParams(limit=MAX_GOALS), status="active")
        return views

    async def morning_agenda_facts(self, user: User) -> MorningAgendaFacts:
        today = self._today(user)
        occurrences = await ScheduleService(self.session).list_occurrences(user, on=today)
        blocks = [
            AgendaBlock(title=o.title, start=o.start, end=o.end, goal_id=o.goal_id)
            for o in occurrences.items
        ]
        goals = [_standing(view) for view in await self._active_goals(user)]
        horizon = today + timedelta(days=DUE_SOON_DAYS)
        due_soon = sorted(
            (g for g in goals if g.target_date is not None and today <= g.target_date <= horizon),
            key=lambda g: (g.target_date, g.title),
        )
        return MorningAgendaFacts(
            day=today,
            blocks=blocks,
            goals_due_soon=due_soon,
            suggestion=_suggestion(goals, due_soon, blocks),
        )

    async def weekly_review_facts(self, user: User) -> WeeklyReviewFacts:
        today = self._today(user)
        first = today - timedelta(days=6)
        zone = progress.user_zone(user.timezone)
        since, until = local_day_bounds(first, today, zone)
        done = await DigestRepository(self.session).minutes_by_goal(user.id, since, until)
        occurrences = await ScheduleService(self.session).list_occurrences(
            user, from_=first, to=today
        )
        planned: dict[uuid.UUID, int] = {}
        for occurrence in occurrences.items:
            if occurrence.goal_id is not None and occurrence.kind == "study":
                minutes = int((occurrence.end - occurrence.start).total_seconds() // 60)
                planned[occurrence.goal_id] = planned.get(occurrence.goal_id, 0) + minutes
        weeks: list[GoalWeek] = []
        adjustments: list[str] = []
        replan: list[uuid.UUID] = []
        for view in await self._active_goals(user):
            standing = _standing(view)
            week = GoalWeek(
                standing=standing,
                minutes_done=done.get(standing.goal_id, 0),
                minutes_planned=planned.get(standing.goal_id, 0),
            )
            weeks.append(week)
            short = week.minutes_planned > 0 and (
                week.minutes_done < BEHIND_SHARE * week.minutes_planned
            )
            if short or not standing.on_track:
                replan.append(standing.goal_id)
                adjustments.append(
                    f"Re-plan {standing.title}: {week.minutes_done} of {week.minutes_planned} "
                    f"planned minutes this week, {standing.percent:g}% done overall."
                )
        return WeeklyReviewFacts(
            week_start=first,
            week_end=today,
            goals=weeks,
            adjustments=adjustments,
            replan_goal_ids=replan,
        )


def _suggestion(
    goals: list[GoalStanding], due_soon: list[GoalStanding], blocks: list[AgendaBlock]
) -> str:
    behind = sorted((g for g in goals if not g.on_track), key=lambda g: g.percent)
    if behind:
        return f"Put time into {behind[0].title}: it is behind ({behind[0].percent:g}% done)."
    if due_soon:
        goal = due_soon[0]
        return f"Keep {goal.title} moving: it is due on {goal.target_date}."
    if blocks:
        return f"Start with {blocks[0].title} at {blocks[0].start:%H:%M}."
    return "Nothing is planned today: add a study session for one of your goals."


def agenda_digest(facts: MorningAgendaFacts, text: str | None = None) -> Digest:
    """The notification; `text`: the model's wording, else the fixed one."""
    return Digest(
        kind="morning_agenda",
        title=f"Your agenda for {facts.day:%A %d %B}",
        body=text or agenda_text(facts),
        data={"date": facts.day.isoformat(), "written_by": "model" if text else "template"},
    )


def review_digest(facts: WeeklyReviewFacts, text: str | None = None) -> Digest:
    return Digest(
        kind="weekly_review",
        title=f"Your week, {facts.week_start:%d %b} to {facts.week_end:%d %b}",
        body=text or review_text(facts),
        data={
            "week_start": facts.week_start.isoformat(),
            "week_end": facts.week_end.isoformat(),
            "replan_goal_ids": [str(goal_id) for goal_id in facts.replan_goal_ids],
            "written_by": "model" if text else "template",
        },
    )


def agenda_text(facts: MorningAgendaFacts) -> str:
    lines = ["Today:"]
    lines += [f"- {b.start:%H:%M}-{b.end:%H:%M} {b.title}" for b in facts.blocks] or [
        "- nothing scheduled"
    ]
    if facts.goals_due_soon:
        lines.append("Due soon:")
        lines += [
            f"- {g.title}: due {g.target_date}, {g.percent:g}% done" for g in facts.goals_due_soon
        ]
    lines.append(f"Suggestion: {facts.suggestion}")
    return "\n".join(lines)


def review_text(facts: WeeklyReviewFacts) -> str:
    lines = ["This week:"]
    lines += [
        f"- {w.standing.title}: {w.minutes_done} of {w.minutes_planned} planned minutes, "
        f"{w.standing.percent:g}% done, streak {w.standing.streak_days} days"
        + ("" if w.standing.on_track else " (behind)")
        for w in facts.goals
    ] or ["- no active goals"]
    if facts.adjustments:
        lines.append("Proposed:")
        lines += [f"- {adjustment}" for adjustment in facts.adjustments]
    return "\n".join(lines)
