"""`context_refs`: the caller's notes and courses put in front of the model for one turn."""

from sqlalchemy.ext.asyncio import AsyncSession

from agents.tokens import CHARS_PER_TOKEN
from domain.conversations.schemas import ContextRefs
from domain.courses.service import CourseService
from domain.notes.service import NoteService
from prompts import load_prompt
from tools.context import ToolContext


async def render_attachments(
    session: AsyncSession, ctx: ToolContext, refs: ContextRefs | None, token_budget: int
) -> str:
    """Each item cut to an equal share of the budget. Another user's id is 404 (the services
    check ownership), before anything is sent to a model."""
    if refs is None or not (refs.note_ids or refs.course_ids):
        return ""
    items: list[tuple[str, str]] = []
    notes = NoteService(session)
    for note_id in dict.fromkeys(refs.note_ids):
        note = await notes.get(ctx.user.id, note_id)
        items.append((ctx.cite("note", note.id, note.title), f"{note.title}\n{note.body}"))
    courses = CourseService(session)
    for course_id in dict.fromkeys(refs.course_ids):
        view = await courses.detail(ctx.user.id, course_id)
        outline = "\n".join(f"- {module.title}" for module in view.modules)
        text = f"{view.course.title}\n{view.course.description or ''}\nModules:\n{outline}"
        items.append((ctx.cite("course", view.course.id, view.course.title), text))
    share = token_budget * CHARS_PER_TOKEN // len(items)
    blocks = "\n\n".join(f"[{ref}]\n{text[:share]}" for ref, text in items)
    return load_prompt("chat/attachments").render(items=blocks)
