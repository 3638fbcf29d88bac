"""The plan drafted without a model, when the model's draft cannot be used.

It says only what is known to be true: the course's modules not completed yet, in the course's
order, at their estimated minutes (or, for a course without modules, the sections of its
documents), and the goal's minutes still to study. The scheduler places
these sessions exactly as it places a model's, with the same proof.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from domain.plans.schemas import MAX_PLAN_SESSIONS, MAX_SESSION_MINUTES, MIN_SESSION_MINUTES

# Without an estimate or a target, a module is one sitting of this, and a plan with neither
# modules nor a target is this many sittings: enough to start, little to undo.
DEFAULT_SESSION_MINUTES = 45
DEFAULT_SESSIONS = 4


@dataclass(frozen=True)
class FallbackModule:
    title: str
    estimated_minutes: int | None


@dataclass(frozen=True)
class FallbackSession:
    title: str
    objective: str
    minutes: int
    module_index: int | None  # into the modules given


def fallback_sessions(
    subject_title: str,
    modules: list[FallbackModule],
    remaining_minutes: int | None,
    session_minutes: int,
    outline: Sequence[str] = (),
) -> list[FallbackSession]:
    """Sessions for the modules still open (unestimated ones share what the goal has left, or
    take a default sitting); without modules, a sitting per section of the course's documents
    (`outline`); else the remaining minutes in sittings of `session_minutes`."""
    sitting = _bounded(session_minutes or DEFAULT_SESSION_MINUTES)
    if modules:
        return _module_sessions(modules, remaining_minutes)[:MAX_PLAN_SESSIONS]
    if outline:
        return [
            FallbackSession(
                title=section[:200],
                objective=f"Study {section}."[:1_000],
                minutes=sitting,
                module_index=None,
            )
            for section in outline[:MAX_PLAN_SESSIONS]
        ]
    total = remaining_minutes if remaining_minutes else sitting * DEFAULT_SESSIONS
    count = min(max(1, math.ceil(total / sitting)), MAX_PLAN_SESSIONS)
    return [
        FallbackSession(
            title=f"{subject_title}: session {n}"[:200],
            objective=f"Study towards {subject_title}."[:1_000],
            minutes=_bounded(min(sitting, total - (n - 1) * sitting)),
            module_index=None,
        )
        for n in range(1, count + 1)
    ]


def _module_sessions(
    modules: list[FallbackModule], remaining_minutes: int | None
) -> list[FallbackSession]:
    estimated = sum(m.estimated_minutes or 0 for m in modules)
    unestimated = [m for m in modules if m.estimated_minutes is None]
    share = DEFAULT_SESSION_MINUTES
    if unestimated and remaining_minutes is not None and remaining_minutes > estimated:
        share = (remaining_minutes - estimated) // len(unestimated)
    sessions: list[FallbackSession] = []
    for index, module in enumerate(modules):
        minutes = module.estimated_minutes if module.estimated_minutes is not None else share
        # A module longer than one session becomes consecutive parts.
        parts = max(1, math.ceil(minutes / MAX_SESSION_MINUTES))
        for part in range(1, parts + 1):
            left = minutes - (part - 1) * MAX_SESSION_MINUTES
            title = module.title if parts == 1 else f"{module.title} (part {part} of {parts})"
            sessions.append(
                FallbackSession(
                    title=title[:200],
                    objective=f"Work through the module “{module.title}”."[:1_000],
                    minutes=_bounded(min(left, MAX_SESSION_MINUTES)),
                    module_index=index,
                )
            )
    return sessions


def _bounded(minutes: int) -> int:
    return max(MIN_SESSION_MINUTES, min(MAX_SESSION_MINUTES, minutes))
