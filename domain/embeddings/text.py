"""The text each embedded row is turned into, and which columns it is made of.

all-MiniLM-L6-v2 reads at most 256 word pieces (about 180 English words) and sentence-transformers
silently drops the rest, so the fields that say most about a row come first: the title, then the
tags, then the body or description. Texts are cut at MAX_TEXT_CHARS (on a word boundary), about
twice that window: the local model always sees a full window, an OpenAI model sees a little more,
and a batch's payload stays bounded. A long note is thus represented by its opening; splitting
notes into several vectors would be the next step if long notes turn out to be missed.
"""

import re

from domain.documents.models import DocumentChunk
from domain.notes.models import Note
from domain.resources.models import Resource

MAX_TEXT_CHARS = 2000

Embedded = Note | Resource | DocumentChunk
EmbeddedModel = type[Note] | type[Resource] | type[DocumentChunk]

# Every table with embeddings, by the name `studypilot reembed --model` takes.
EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    "notes": Note,
    "resources": Resource,
    "document_chunks": DocumentChunk,
}

# The columns each text is made of: a write to any of them makes the stored vector stale, so the
# row goes back to `pending` and is embedded again.
TEXT_COLUMNS: dict[EmbeddedModel, frozenset[str]] = {
    Note: frozenset({"title", "body", "tags"}),
    Resource: frozenset({"title", "description", "tags"}),
    DocumentChunk: frozenset({"text", "headings"}),
}

_WHITESPACE = re.compile(r"\s+")


def note_text(note: Note) -> str:
    return _compose(note.title, note.tags, note.body)


def resource_text(resource: Resource) -> str:
    return _compose(resource.title, resource.tags, resource.description)


def chunk_text(headings: list[str] | tuple[str, ...], text: str) -> str:
    """A document passage, under its heading path (which says what the passage is about)."""
    heading = " > ".join(headings)
    return truncate("\n".join(part for part in (_squash(heading), _squash(text)) if part))


def embedding_text(row: Embedded) -> str:
    if isinstance(row, Note):
        return note_text(row)
    if isinstance(row, DocumentChunk):
        return chunk_text(row.headings, row.text)
    return resource_text(row)


def _compose(title: str, tags: list[str] | None, body: str | None) -> str:
    parts = [_squash(title)]
    if tags:
        parts.append("Tags: " + ", ".join(tags))
    if body and (squashed := _squash(body)):
        parts.append(squashed)
    return truncate("\n".join(parts))


def _squash(text: str) -> str:
    # Markdown indentation and blank lines cost word pieces without carrying meaning.
    return _WHITESPACE.sub(" ", text).strip()


def truncate(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """At most `limit` characters, cut before a partial word when there is a space to cut at."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    boundary = cut.rfind(" ")
    return cut[:boundary] if boundary > limit // 2 else cut
