"""Build a case's seeded world through the domain services, and remember what belongs to whom.

Two users: the student the agent serves and an intruder whose private data must never reach the
model or the answer. Everything is written by the same services the API uses (so their rules
hold), then embedded with the configured embedder so search and recommendations work as live.
"""

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from domain.courses.schemas import CourseCreate, ModuleCreate
from domain.courses.service import CourseService
from domain.embeddings.runtime import EmbeddingRuntime
from domain.embeddings.service import EmbeddingService
from domain.goals.schemas import MAX_EVENT_MINUTES, GoalCreate, ProgressEventCreate
from domain.goals.service import GoalService
from domain.notes.models import Note
from domain.notes.schemas import NoteCreate
from domain.notes.service import NoteService
from domain.resources.models import Resource
from domain.resources.schemas import ResourceCreate
from domain.resources.service import ResourceService
from domain.schedule.schemas import ScheduleBlockCreate
from domain.schedule.service import ScheduleService
from domain.users.models import User
from evals.cases import UserWorld, World

# Eval users never log in: no password can match this hash.
_NO_PASSWORD = "!eval-user"  # noqa: S105 - not a credential: an impossible hash


@dataclass
class Owned:
    """One user's objects: handle -> id, plus what identifies their private data."""

    user: User
    ids: dict[str, uuid.UUID] = field(default_factory=dict)
    # Ids and texts only this user may see (public courses and their resources excluded).
    private_ids: set[uuid.UUID] = field(default_factory=set)
    private_texts: set[str] = field(default_factory=set)
    module_ids: dict[str, list[uuid.UUID]] = field(default_factory=dict)


@dataclass
class BuiltWorld:
    student: Owned
    intruder: Owned
    today: date

    def resolve(self, handle: str) -> uuid.UUID:
        """`note:x` is the student's note x; `intruder.note:x` the intruder's. The student's
        handles may also name the intruder's public courses and their resources."""
        if handle.startswith("intruder."):
            return self.intruder.ids[handle.removeprefix("intruder.")]
        if handle in self.student.ids:
            return self.student.ids[handle]
        if (
            handle in self.intruder.ids
            and self.intruder.ids[handle] not in self.intruder.private_ids
        ):
            return self.intruder.ids[handle]
        raise LookupError(f"the world has no {handle!r} the student can see")


async def build_world(
    session: AsyncSession, world: World, embedding: EmbeddingRuntime, tag: str
) -> BuiltWorld:
    """Write the world; `tag` keeps e-mail addresses unique across cases of one run."""
    student = await _user(session, world.student, tag)
    intruder = await _user(session, world.intruder, tag)
    courses = CourseService(session)
    # Courses first (both users), since enrolments and links may cross users.
    for owned, spec in ((student, world.student), (intruder, world.intruder)):
        for course in spec.courses:
            view = await courses.create(
                owned.user.id,
                CourseCreate(
                    title=course.title,
                    description=course.description,
                    visibility="public" if course.public else "private",
                    modules=[
                        ModuleCreate(title=m.title, estimated_minutes=m.minutes, content=m.content)
                        for m in course.modules
                    ],
                ),
            )
            key = f"course:{course.handle}"
            owned.ids[key] = view.course.id
            owned.module_ids[course.handle] = [module.id for module in view.modules]
            if not course.public:
                owned.private_ids.add(view.course.id)
                owned.private_texts.update(_texts(course.title, course.description))
    all_courses = {**student.ids, **intruder.ids}
    pending_notes: list[uuid.UUID] = []
    pending_resources: list[uuid.UUID] = []
    for owned, spec in ((student, world.student), (intruder, world.intruder)):
        user_id = owned.user.id
        for handle in spec.enrolled:
            await courses.enroll(user_id, all_courses[f"course:{handle}"])
        today = datetime.now(ZoneInfo(owned.user.timezone)).date()
        goals = GoalService(session)
        for goal in spec.goals:
            goal_view = await goals.create(
                owned.user,
                GoalCreate(
                    title=goal.title,
                    description=goal.description,
                    course_id=all_courses[f"course:{goal.course}"] if goal.course else None,
                    target_date=today + timedelta(days=goal.due_in_days)
                    if goal.due_in_days is not None
                    else None,
                    target_minutes=goal.target_minutes,
                    target_modules=goal.target_modules,
                ),
            )
            left = goal.minutes_done
            while left > 0:
                minutes = min(left, MAX_EVENT_MINUTES)
                await goals.record_progress(
                    owned.user, goal_view.goal.id, ProgressEventCreate(minutes=minutes)
                )
                left -= minutes
            _own(owned, f"goal:{goal.handle}", goal_view.goal.id, goal.title, goal.description)
        for note in spec.notes:
            row = await NoteService(session).create(
                user_id,
                NoteCreate(
                    title=note.title,
                    body=note.body,
                    course_id=all_courses[f"course:{note.course}"] if note.course else None,
                    tags=note.tags,
                ),
            )
            pending_notes.append(row.id)
            _own(owned, f"note:{note.handle}", row.id, note.title, note.body)
        for resource in spec.resources:
            course_id = all_courses[f"course:{resource.course}"] if resource.course else None
            created = await ResourceService(session).create(
                user_id,
                ResourceCreate(
                    title=resource.title,
                    url=resource.url,
                    type=resource.type,
                    description=resource.description,
                    tags=resource.tags,
                    course_id=course_id,
                ),
            )
            pending_resources.append(created.id)
            key = f"resource:{resource.handle}"
            if course_id is not None and course_id not in owned.private_ids:
                owned.ids[key] = created.id  # shared through a public course
            else:
                _own(owned, key, created.id, resource.title, resource.description)
        for block in spec.blocks:
            zone = ZoneInfo(owned.user.timezone)
            start = datetime.combine(
                today + timedelta(days=block.day), time.fromisoformat(block.at), zone
            )
            created_block = await ScheduleService(session).create(
                owned.user,
                ScheduleBlockCreate(
                    title=block.title,
                    start=start,
                    end=start + timedelta(minutes=block.minutes),
                    timezone=owned.user.timezone,
                    recurrence="FREQ=WEEKLY" if block.weekly else None,
                    kind=block.kind,
                ),
            )
            owned.private_ids.add(created_block.id)
            owned.private_texts.update(_texts(block.title))
    await _complete_modules(session, world, student, intruder)
    embedder = EmbeddingService(session, embedding.embedder, embedding.model_id)
    await embedder.embed_pending(Note, pending_notes)
    await embedder.embed_pending(Resource, pending_resources)
    today = datetime.now(ZoneInfo(student.user.timezone)).date()
    return BuiltWorld(student=student, intruder=intruder, today=today)


async def _complete_modules(
    session: AsyncSession, world: World, student: Owned, intruder: Owned
) -> None:
    """`done` modules are the student's completions: of their own courses or of public courses
    they are enrolled in."""
    readable = {*world.student.enrolled, *(course.handle for course in world.student.courses)}
    module_ids = {**intruder.module_ids, **student.module_ids}
    course_ids = {**intruder.ids, **student.ids}
    for course in [*world.student.courses, *world.intruder.courses]:
        if course.handle not in readable:
            continue
        for module, module_id in zip(course.modules, module_ids[course.handle], strict=True):
            if module.done:
                await CourseService(session).complete_module(
                    student.user.id, course_ids[f"course:{course.handle}"], module_id
                )


async def _user(session: AsyncSession, spec: UserWorld, tag: str) -> Owned:
    local, _, domain = spec.email.partition("@")
    user = User(
        email=f"{local}+{tag}@{domain}",
        password_hash=_NO_PASSWORD,
        name=spec.name,
        timezone=spec.timezone,
        study_preferences=spec.preferences,
    )
    session.add(user)
    await session.flush()
    return Owned(user=user)


def _own(owned: Owned, key: str, object_id: uuid.UUID, *texts: str | None) -> None:
    owned.ids[key] = object_id
    owned.private_ids.add(object_id)
    owned.private_texts.update(_texts(*texts))


# Texts shorter than this are too likely to occur by chance ("Week 1") to prove a leak.
_MIN_FINGERPRINT_CHARS = 16


def _texts(*texts: str | None) -> set[str]:
    """The fingerprints of private text: each line long enough to be distinctive."""
    found: set[str] = set()
    for text in texts:
        for line in (text or "").splitlines():
            line = line.strip()
            if len(line) >= _MIN_FINGERPRINT_CHARS:
                found.add(line)
    return found
