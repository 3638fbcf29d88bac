"""POST /ai/summary: who may summarise what, the cache, failures, and a recorded provider run."""

import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any, Protocol

import httpx
import pytest
from fastapi import FastAPI
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_openai import ChatOpenAI
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.security import TokenCodec
from domain.agent_runs.models import AgentRun
from domain.courses.models import CourseModule
from domain.documents.models import DocumentChunk
from domain.documents.text import extracted_text
from domain.summaries.models import Summary
from domain.users.models import User
from tests.fixtures.assertions import assert_error
from tests.fixtures.documents import pdf_bytes
from tests.fixtures.factories.content import create_document, create_note
from tests.fixtures.factories.courses import create_course
from tests.fixtures.factories.users import auth_headers, create_user
from tests.fixtures.llm import ScriptedChatModel, cassette_provider, recorded_usage, scripted
from tests.support.scripted_openai import Answer, Fault, Reply, ScriptedOpenAI

PROMPT_VERSION = "summary/map@v1+summary/reduce@v1"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def count(session: AsyncSession, model: type[Summary] | type[AgentRun]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def use_model(app: FastAPI, model: BaseChatModel) -> None:
    app.state.chat_models.with_model("summary", model)


async def summarise(
    client: httpx.AsyncClient, user: User, codec: TokenCodec, **body: Any
) -> httpx.Response:
    json = {
        key: str(value) if isinstance(value, uuid.UUID) else value for key, value in body.items()
    }
    return await client.post("/ai/summary", headers=auth_headers(codec, user), json=json)


async def test_a_note_is_summarised_once_then_served_from_the_cache(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    note = await create_note(db_session, user.id, title="Krebs cycle", body="Citrate first.")
    model = scripted("The Krebs cycle starts with citrate.")
    use_model(app, model)

    first = await summarise(client, user, codec, note_id=note.id, length="short")
    assert first.status_code == 200, first.text
    assert first.json() == {
        "summary": "The Krebs cycle starts with citrate.",
        "subject": {"type": "note", "id": str(note.id)},
        "length": "short",
        "cached": False,
        "chunks": 1,
        "model": "ScriptedChatModel",
        "prompt_version": PROMPT_VERSION,
        "content_hash": sha256("# Krebs cycle\n\nCitrate first."),
    }
    assert "Citrate first." in str(model.received[0][-1].content)

    second = await summarise(client, user, codec, note_id=note.id, length="short")
    assert second.status_code == 200, second.text
    assert second.json() == {**first.json(), "cached": True}
    assert len(model.received) == 1
    assert await count(db_session, Summary) == 1
    runs = (await db_session.scalars(select(AgentRun))).all()
    assert [(r.graph, r.outcome, r.prompt_version) for r in runs] == [
        ("summary", "ok", PROMPT_VERSION)
    ]


async def test_each_length_is_a_summary_of_its_own(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    note = await create_note(db_session, user.id)
    use_model(app, model := scripted("short one", "long one"))

    short = await summarise(client, user, codec, note_id=note.id, length="short")
    long = await summarise(client, user, codec, note_id=note.id, length="long")
    assert (short.json()["summary"], long.json()["summary"]) == ("short one", "long one")
    assert not long.json()["cached"]
    assert len(model.received) == 2


async def test_an_edited_note_is_summarised_again(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    note = await create_note(db_session, user.id, title="Osmosis", body="Water moves.")
    use_model(app, model := scripted("before the edit", "after the edit"))

    before = await summarise(client, user, codec, note_id=note.id)
    edited = await client.patch(
        f"/notes/{note.id}",
        headers=auth_headers(codec, user),
        json={"body": "Water moves across a membrane."},
    )
    assert edited.status_code == 200, edited.text
    after = await summarise(client, user, codec, note_id=note.id)

    assert after.status_code == 200, after.text
    assert (after.json()["summary"], after.json()["cached"]) == ("after the edit", False)
    assert after.json()["content_hash"] == sha256("# Osmosis\n\nWater moves across a membrane.")
    assert after.json()["content_hash"] != before.json()["content_hash"]
    assert "Water moves across a membrane." in str(model.received[1][-1].content)
    assert await count(db_session, Summary) == 2


async def test_a_course_is_summarised_from_its_title_description_and_modules_in_order(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    course = await create_course(
        db_session, user.id, title="Cell biology", description="From cells to tissues."
    )
    db_session.add_all(
        [
            CourseModule(course_id=course.id, title="Tissues", content="Groups.", position=1),
            CourseModule(course_id=course.id, title="Cells", content="Units.", position=0),
        ]
    )
    await db_session.commit()
    use_model(app, model := scripted("A course on cells and tissues."))

    response = await summarise(client, user, codec, course_id=course.id)

    assert response.status_code == 200, response.text
    text = "# Cell biology\n\nFrom cells to tissues.\n\n## Cells\n\nUnits.\n\n## Tissues\n\nGroups."
    assert response.json()["subject"] == {"type": "course", "id": str(course.id)}
    assert response.json()["content_hash"] == sha256(text)
    assert text in str(model.received[0][-1].content)


async def test_another_users_public_course_can_be_summarised(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    owner, reader = await create_user(db_session), await create_user(db_session)
    course = await create_course(db_session, owner.id, visibility="public")
    use_model(app, scripted("A public course."))

    response = await summarise(client, reader, codec, course_id=course.id)
    assert response.status_code == 200, response.text
    assert response.json()["summary"] == "A public course."


async def test_another_users_note_or_private_course_is_not_found(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    owner, intruder = await create_user(db_session), await create_user(db_session)
    note = await create_note(db_session, owner.id)
    course = await create_course(db_session, owner.id, visibility="private")
    use_model(app, model := scripted())

    assert_error(await summarise(client, intruder, codec, note_id=note.id), 404, "not_found")
    assert_error(await summarise(client, intruder, codec, course_id=course.id), 404, "not_found")
    assert_error(await summarise(client, owner, codec, note_id=uuid.uuid4()), 404, "not_found")
    assert model.received == []
    assert await count(db_session, AgentRun) == 0


async def test_summaries_need_a_signed_in_user(client: httpx.AsyncClient) -> None:
    response = await client.post("/ai/summary", json={"note_id": str(uuid.uuid4())})
    assert_error(response, 401, "unauthorized")


async def test_a_course_too_long_to_summarise_is_refused_before_any_model_call(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    course = await create_course(db_session, user.id)
    chapter = "Photosynthesis turns light into sugar. " * 5_000  # 195,000 characters
    db_session.add_all(
        CourseModule(course_id=course.id, title=f"Part {n}", content=chapter, position=n)
        for n in range(6)
    )
    await db_session.commit()
    use_model(app, model := scripted())

    response = await summarise(client, user, codec, course_id=course.id)

    body = assert_error(response, 422, "source_too_long")
    assert body["details"]["chars"] > body["details"]["max_chars"]
    assert model.received == []
    assert await count(db_session, AgentRun) == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"length": "short"},
        {"note_id": str(uuid.uuid4()), "course_id": str(uuid.uuid4())},
        {"note_id": str(uuid.uuid4()), "document_id": str(uuid.uuid4())},
        {"note_id": str(uuid.uuid4()), "length": "tiny"},
        {"note_id": str(uuid.uuid4()), "style": "bullets"},
    ],
    ids=["neither", "length-only", "both", "note-and-document", "unknown-length", "unknown-field"],
)
async def test_a_request_needs_exactly_one_subject_and_a_known_length(
    app: FastAPI,
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    codec: TokenCodec,
    body: dict[str, str],
) -> None:
    user = await create_user(db_session)
    use_model(app, model := scripted())
    response = await client.post("/ai/summary", headers=auth_headers(codec, user), json=body)
    assert_error(response, 422, "validation_error")
    assert model.received == []


async def test_without_a_configured_model_nothing_is_summarised(
    client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    note = await create_note(db_session, user.id)

    response = await summarise(client, user, codec, note_id=note.id)

    assert_error(response, 503, "llm_not_configured")
    assert await count(db_session, Summary) == 0
    assert await count(db_session, AgentRun) == 0


async def test_a_failing_provider_is_a_503_with_the_run_recorded_and_nothing_cached(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    note = await create_note(db_session, user.id)
    async with ScriptedOpenAI([Fault(500)]) as server:
        use_model(
            app,
            ChatOpenAI(
                model="gpt-test", base_url=server.base_url, api_key=SecretStr("test"), max_retries=0
            ),
        )
        response = await summarise(client, user, codec, note_id=note.id)
        assert len(server.requests) == 1

    body = assert_error(response, 503, "llm_unavailable")
    assert body["details"] == {"provider_status": 500}
    assert await count(db_session, Summary) == 0
    # Recorded after the request's rollback, so the failed run stays on record.
    runs = (await db_session.scalars(select(AgentRun))).all()
    assert [(r.model, r.outcome, r.error_code) for r in runs] == [
        ("gpt-test", "error", "llm_unavailable")
    ]


async def test_an_empty_answer_is_a_502_and_is_not_cached(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    note = await create_note(db_session, user.id)
    use_model(app, scripted(""))

    assert_error(await summarise(client, user, codec, note_id=note.id), 502, "llm_bad_response")
    assert await count(db_session, Summary) == 0


class RaceLosingModel(ScriptedChatModel):
    """While it answers, an identical request finishes first and stores its summary."""

    session: Any = None
    winner: dict[str, Any] = {}  # noqa: RUF012 - pydantic copies field defaults

    async def _agenerate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        await self.session.execute(insert(Summary).values(self.winner))
        await self.session.commit()
        return await super()._agenerate(messages, *args, **kwargs)


async def test_a_summary_stored_meanwhile_by_an_identical_request_is_no_error(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    note = await create_note(db_session, user.id, title="Race", body="Who stores first?")
    winner = {
        "id": uuid.uuid4(),
        "user_id": user.id,
        "subject_type": "note",
        "subject_id": note.id,
        "length": "medium",
        "content_hash": sha256("# Race\n\nWho stores first?"),
        "prompt_version": PROMPT_VERSION,
        "model": "RaceLosingModel",
        "text": "the other request's summary",
    }
    model = RaceLosingModel(
        messages=iter(["this request's summary"]), received=[], session=db_session, winner=winner
    )
    use_model(app, model)

    response = await summarise(client, user, codec, note_id=note.id)

    assert response.status_code == 200, response.text
    assert response.json()["summary"] == "this request's summary"
    stored = (await db_session.scalars(select(Summary.text))).all()
    assert stored == ["the other request's summary"]


# A long note of four chunks (of 3,000 tokens): summarised map-reduce.
LONG_NOTE = "\n\n".join(
    f"Lecture {n}. " + " ".join(f"Point {n}.{k}: cells store energy as ATP." for k in range(80))
    for n in range(1, 11)
)
FINAL_SUMMARY = "Cells store energy as ATP, lecture after lecture."


def answer_as_recorded(request: dict[str, Any]) -> Reply:
    """What the provider said when the cassette was recorded: a partial per map call, then the
    final summary for the reduce call."""
    prompt = request["messages"][-1]["content"]
    if "<summaries>" in prompt:
        return Answer(FINAL_SUMMARY)
    part = re.search(r"part (\d+) of (\d+)", prompt)
    assert part is not None
    return Answer(f"Part {part[1]} of {part[2]}: cells store energy as ATP.")


@pytest.fixture
async def provider(record_mode: str) -> AsyncIterator[dict[str, str]]:
    async with cassette_provider(record_mode, responder=answer_as_recorded) as settings:
        yield settings


class Cassette(Protocol):
    """What this module reads of vcrpy's cassette (vcrpy ships no type information)."""

    play_count: int
    write_protected: bool

    def __len__(self) -> int: ...


def provider_calls(cassette: Cassette) -> int:
    """Chat completions sent so far: replayed ones, or recorded ones while recording."""
    return cassette.play_count if cassette.write_protected else len(cassette)


@pytest.mark.vcr
async def test_a_long_note_is_summarised_map_reduce_through_the_openai_client(
    provider_client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec, vcr: Cassette
) -> None:
    user = await create_user(db_session)
    note = await create_note(db_session, user.id, title="Energy", body=LONG_NOTE)

    first = await summarise(provider_client, user, codec, note_id=note.id, length="short")

    assert first.status_code == 200, first.text
    assert first.json()["summary"] == FINAL_SUMMARY
    assert first.json()["chunks"] == 4
    assert first.json()["cached"] is False
    # A map call per chunk, then one reduce call.
    assert provider_calls(vcr) == 5
    (run,) = (await db_session.scalars(select(AgentRun))).all()
    assert (run.outcome, run.model) == ("ok", first.json()["model"])
    # The provider's usage of every call was counted, and the note alone is ~7,800 tokens.
    assert run.input_tokens > len(LONG_NOTE) // 4
    # Exactly what the recorded responses reported: daily budgets are charged from these.
    assert (run.input_tokens, run.output_tokens) == recorded_usage(vcr)

    second = await summarise(provider_client, user, codec, note_id=note.id, length="short")
    assert second.status_code == 200, second.text
    assert second.json() == {**first.json(), "cached": True}
    assert provider_calls(vcr) == 5
    assert await count(db_session, AgentRun) == 1


async def test_a_document_is_summarised_map_reduce_from_its_extracted_text_and_cached(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    # Long enough for the summariser to split it: a map call per part, then a reduce.
    pages = [
        f"Page {n}. " + "Enzymes lower activation energy in reactions. " * 80 for n in range(6)
    ]
    uploaded = await client.post(
        "/documents",
        headers=headers,
        files={"file": ("enzymes.pdf", pdf_bytes(pages), "application/pdf")},
    )
    document_id = uploaded.json()["id"]
    chunks = (
        await db_session.scalars(
            select(DocumentChunk)
            .where(DocumentChunk.document_id == document_id)
            .order_by(DocumentChunk.position)
        )
    ).all()
    text = extracted_text(chunks)
    # Every passage's span points into the reconstructed text.
    assert all(text[c.char_start : c.char_end] == c.text for c in chunks)
    model = ScriptedChatModel(messages=iter(["Part summary."] * 20 + ["Enzymes speed reactions."]))
    use_model(app, model)

    first = await summarise(client, user, codec, document_id=document_id, length="short")

    assert first.status_code == 200, first.text
    body = first.json()
    assert body["subject"] == {"type": "document", "id": document_id}
    assert body["content_hash"] == sha256(f"# enzymes\n\n{text}")
    assert body["chunks"] > 1
    assert len(model.received) == body["chunks"] + 1
    assert "Enzymes lower activation energy" in str(model.received[0][-1].content)
    second = await summarise(client, user, codec, document_id=document_id, length="short")
    assert second.json() == {**body, "cached": True}
    assert len(model.received) == body["chunks"] + 1


async def test_a_document_still_processing_is_409_and_anothers_is_404(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, codec: TokenCodec
) -> None:
    user, other = await create_user(db_session), await create_user(db_session)
    processing = await create_document(db_session, user.id, status="processing")
    foreign = await create_document(db_session, other.id)
    use_model(app, model := scripted())
    busy = await summarise(client, user, codec, document_id=processing.id)
    assert assert_error(busy, 409, "document_not_ready")["details"] == {"status": "processing"}
    assert_error(await summarise(client, user, codec, document_id=foreign.id), 404, "not_found")
    assert model.received == []
