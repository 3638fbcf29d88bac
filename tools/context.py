"""What a tool knows about the turn it runs in."""

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from domain.embeddings.runtime import EmbeddingRuntime
from domain.plans.tracking import PlanTracker
from domain.reminders.timers import ReminderTimers
from domain.search.service import document_ref
from domain.users.models import User

SourceType = Literal["note", "resource", "course"]
_WORDS = re.compile(r"\w+")
MIN_REQUEST_WORDS = 3


@dataclass
class ToolContext:
    user: User
    session: AsyncSession
    embedding: EmbeddingRuntime
    # The student's message in this turn: the only authority for tools that change data.
    request_text: str
    # Data changes made in this turn, reported back with the answer.
    changes: list[dict[str, Any]] = field(default_factory=list)
    # What the tools showed the model this turn; citations are checked against it.
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The workflow engine's ports (None without one): a reminder made here gets its delivery
    # workflow, progress recorded here reaches the goal's plans, once the turn commits.
    reminder_timers: ReminderTimers | None = None
    plan_tracker: PlanTracker | None = None
    # The model may call tools in parallel; one session cannot run two statements at once.
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[AsyncSession]:
        """One tool call's work: serialised, and in a savepoint, so a failing tool leaves the
        turn's transaction usable and its own half-done writes undone."""
        async with self._lock, self.session.begin_nested():
            yield self.session

    def cite(self, kind: SourceType, source_id: object, title: str) -> str:
        key = f"{kind}:{source_id}"
        self.sources[key] = {"type": kind, "id": str(source_id), "title": title}
        return key

    def cite_passage(self, document_id: uuid.UUID, page: int | None, title: str) -> str:
        """A document passage's ref: `document:<id>#page=<n>`, or `document:<id>` without pages."""
        key = document_ref(document_id, page)
        self.sources[key] = {"type": "document", "id": str(document_id), "title": title}
        if page is not None:
            self.sources[key]["page"] = page
        return key

    def asked_for(self, quote: str, verbs: frozenset[str]) -> bool:
        """Whether `quote` is the student's own words from this turn (case and spacing aside),
        asking for this kind of change: at least three words, one of them one of `verbs`.

        Data-changing tools require it: a change needs a request in the message itself, not in
        a note's text, a course description or the model's own idea. It is a guard against a
        model acting unasked, not proof of intent; the answer reports every change made.
        """
        wanted = _WORDS.findall(quote.lower())
        said = _WORDS.findall(self.request_text.lower())
        if len(wanted) < MIN_REQUEST_WORDS or not verbs.intersection(wanted):
            return False
        return any(said[i : i + len(wanted)] == wanted for i in range(len(said) - len(wanted) + 1))
