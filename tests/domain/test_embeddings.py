"""The embedding pipeline against the real database, with the deterministic hashing embedder."""

import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from langchain_core.embeddings import Embeddings
from langchain_openai import OpenAIEmbeddings
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as create_test_engine

from cli.reembed import reembed
from core.config import Settings
from core.search import EMBEDDING_DIMENSIONS
from domain.documents.models import Document, DocumentChunk
from domain.embeddings.embedder import (
    EmbeddingsNotConfiguredError,
    LocalEmbedder,
    UnconfiguredEmbedder,
    create_embedder,
    model_id,
)
from domain.embeddings.runtime import create_embedding_runtime
from domain.embeddings.service import (
    EmbeddingService,
    EmbeddingUnavailableError,
    embed_in_background,
)
from domain.embeddings.text import MAX_TEXT_CHARS, note_text, resource_text, truncate
from domain.notes.models import Note
from domain.resources.models import Resource
from domain.users.models import User
from tests.fixtures.embeddings import (
    TEST_MODEL_ID,
    FailingEmbedder,
    HashingEmbedder,
    WrongSizeEmbedder,
)
from tests.fixtures.factories.users import create_user

OLD_MODEL_ID = "local:some-older-model"


async def add_note(session: AsyncSession, user: User, title: str, body: str, **extra: Any) -> Note:
    note = Note(user_id=user.id, title=title, body=body, tags=[], **extra)
    session.add(note)
    await session.commit()
    return note


async def add_resource(
    session: AsyncSession, user: User, title: str, description: str | None, **extra: Any
) -> Resource:
    resource = Resource(
        user_id=user.id, title=title, description=description, type="article", tags=[], **extra
    )
    session.add(resource)
    await session.commit()
    return resource


async def reload(session: AsyncSession, row: Note | Resource) -> None:
    """The pipeline writes with UPDATE statements: objects already loaded need a refresh."""
    await session.refresh(
        row, ["embedding", "embedding_model", "embedding_status", "embedded_at", "updated_at"]
    )


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def service(db_session: AsyncSession, embedder: HashingEmbedder) -> EmbeddingService:
    return EmbeddingService(db_session, embedder, TEST_MODEL_ID)


# --- texts -----------------------------------------------------------------------------------


def test_note_text_puts_title_and_tags_before_the_body() -> None:
    note = Note(title="  Eigenvalues ", body="A matrix\n\n  times a   vector.", tags=["algebra"])
    assert note_text(note) == "Eigenvalues\nTags: algebra\nA matrix times a vector."


def test_resource_text_without_description() -> None:
    resource = Resource(title="Khan Academy: derivatives", description=None, tags=[])
    assert resource_text(resource) == "Khan Academy: derivatives"


def test_long_texts_are_cut_on_a_word_boundary() -> None:
    text = note_text(Note(title="Essay", body="word " * 1000, tags=[]))
    assert len(text) <= MAX_TEXT_CHARS
    assert text.endswith("word")
    assert truncate("x" * (MAX_TEXT_CHARS + 10)) == "x" * MAX_TEXT_CHARS


# --- providers -------------------------------------------------------------------------------


def test_model_id_names_the_provider_model_and_size() -> None:
    assert model_id(Settings()) == "local:all-MiniLM-L6-v2"
    openai = Settings(embedding_provider="openai", embedding_model="text-embedding-3-small")
    assert model_id(openai) == "openai:text-embedding-3-small@384"


def test_local_embedder_loads_nothing_until_used() -> None:
    embedder = create_embedder(Settings())
    assert isinstance(embedder, LocalEmbedder)
    assert not embedder.loaded


def test_local_provider_only_has_the_packaged_model() -> None:
    with pytest.raises(EmbeddingsNotConfiguredError, match="ships only all-MiniLM-L6-v2"):
        create_embedder(Settings(embedding_model="all-mpnet-base-v2"))


def test_openai_without_a_key_is_not_configured() -> None:
    settings = Settings(embedding_provider="openai", openai_api_key=None)
    with pytest.raises(EmbeddingsNotConfiguredError, match="OPENAI_API_KEY") as caught:
        create_embedder(settings)
    assert caught.value.status_code == 503
    assert caught.value.code == "embeddings_not_configured"


async def test_unconfigured_runtime_still_starts_and_answers_503() -> None:
    runtime = create_embedding_runtime(Settings(embedding_provider="openai", openai_api_key=None))
    assert isinstance(runtime.embedder, UnconfiguredEmbedder)
    with pytest.raises(EmbeddingsNotConfiguredError):
        await runtime.embed_query("eigenvalues")


class FakeOpenAI(BaseHTTPRequestHandler):
    """An OpenAI-compatible /v1/embeddings answering fixed vectors; records what it was sent."""

    requests: ClassVar[list[tuple[str, dict[str, str], dict[str, Any]]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.requests.append((self.path, headers, body))
        vector = [0.0] * EMBEDDING_DIMENSIONS
        vector[0] = 1.0
        answer = json.dumps(
            {
                "object": "list",
                "model": body["model"],
                "data": [
                    {"object": "embedding", "index": i, "embedding": vector}
                    for i, _ in enumerate(body["input"])
                ],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def fake_openai() -> Iterator[str]:
    FakeOpenAI.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


async def test_openai_provider_sends_raw_texts_asking_for_384_dimensions(fake_openai: str) -> None:
    settings = Settings(
        embedding_provider="openai",
        embedding_model="text-embedding-3-small",
        openai_api_key="sk-test",
        openai_base_url=fake_openai,
    )
    embedder = create_embedder(settings)
    assert isinstance(embedder, OpenAIEmbeddings)

    vectors = await embedder.aembed_documents(["Eigenvalues", "French subjunctive"])

    assert [len(v) for v in vectors] == [EMBEDDING_DIMENSIONS, EMBEDDING_DIMENSIONS]
    [(path, headers, body)] = FakeOpenAI.requests
    assert path == "/v1/embeddings"
    assert headers["authorization"] == "Bearer sk-test"
    assert body["model"] == "text-embedding-3-small"
    assert body["dimensions"] == EMBEDDING_DIMENSIONS
    # Strings, not tiktoken ids: compatible servers accept them and nothing is downloaded.
    assert body["input"] == ["Eigenvalues", "French subjunctive"]


# --- the pipeline ----------------------------------------------------------------------------


async def test_embed_pending_stores_ready_vectors_in_one_batch(
    db_session: AsyncSession, service: EmbeddingService, embedder: HashingEmbedder
) -> None:
    user = await create_user(db_session)
    notes = [
        await add_note(db_session, user, "Eigenvalues", "Av = λv for a square matrix A."),
        await add_note(db_session, user, "Subjunctive", "Il faut que tu sois là."),
    ]
    updated_at = {note.id: note.updated_at for note in notes}
    before = datetime.now(UTC)

    embedded = await service.embed_pending(Note, [note.id for note in notes])

    assert embedded == 2
    assert len(embedder.calls) == 1  # one batch
    for note in notes:
        await reload(db_session, note)
        assert note.embedding_status == "ready"
        assert note.embedding_model == TEST_MODEL_ID
        assert note.embedded_at is not None
        assert note.embedded_at >= before
        assert note.embedding is not None
        assert list(note.embedding) == pytest.approx(embedder.embed_query(note_text(note)))
        # Embedding is not an edit.
        assert note.updated_at == updated_at[note.id]


async def test_rows_that_are_gone_are_skipped(service: EmbeddingService) -> None:
    assert await service.embed_pending(Note, [uuid.uuid4()]) == 0


@pytest.mark.parametrize("broken", [FailingEmbedder(), WrongSizeEmbedder()])
async def test_provider_failure_marks_rows_failed_without_raising(
    db_session: AsyncSession, broken: Embeddings
) -> None:
    user = await create_user(db_session)
    note = await add_note(db_session, user, "Eigenvalues", "Av = λv")

    embedded = await EmbeddingService(db_session, broken, TEST_MODEL_ID).embed_pending(
        Note, [note.id]
    )

    assert embedded == 0
    await db_session.refresh(note, ["embedding", "embedding_status"])
    assert note.embedding_status == "failed"
    assert note.embedding is None


async def test_without_a_provider_rows_stay_pending(db_session: AsyncSession) -> None:
    user = await create_user(db_session)
    note = await add_note(db_session, user, "Eigenvalues", "Av = λv")
    service = EmbeddingService(db_session, UnconfiguredEmbedder("no key"), TEST_MODEL_ID)

    assert await service.embed_pending(Note, [note.id]) == 0

    await db_session.refresh(note, ["embedding_status"])
    assert note.embedding_status == "pending"


async def test_an_edit_made_while_embedding_is_not_overwritten(db_session: AsyncSession) -> None:
    user = await create_user(db_session)
    note = await add_note(db_session, user, "Eigenvalues", "first version")

    class EditingMeanwhile(HashingEmbedder):
        async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
            # The user saves a new version while the old text is being embedded.
            await db_session.execute(
                update(Note).where(Note.id == note.id).values(body="second version")
            )
            return await super().aembed_documents(texts)

    service = EmbeddingService(db_session, EditingMeanwhile(), TEST_MODEL_ID)
    assert await service.embed_pending(Note, [note.id]) == 0

    await db_session.refresh(note, ["embedding", "embedding_status", "body"])
    assert note.body == "second version"
    assert note.embedding is None
    assert note.embedding_status == "pending"


async def test_reembed_all_replaces_other_models_vectors_and_skips_current_ones(
    db_session: AsyncSession, service: EmbeddingService, embedder: HashingEmbedder
) -> None:
    user = await create_user(db_session)
    earlier = datetime(2024, 1, 1, tzinfo=UTC)
    old_vector = [0.0] * EMBEDDING_DIMENSIONS
    old_vector[1] = 1.0
    old = await add_note(
        db_session,
        user,
        "Old model",
        "text",
        embedding=old_vector,
        embedding_model=OLD_MODEL_ID,
        embedding_status="ready",
        embedded_at=earlier,
    )
    current = await add_note(
        db_session,
        user,
        "Current model",
        "text",
        embedding=embedder.embed_query("x"),
        embedding_model=TEST_MODEL_ID,
        embedding_status="ready",
        embedded_at=earlier,
    )
    pending = await add_note(db_session, user, "Pending", "text")
    failed = await add_note(db_session, user, "Failed", "text", embedding_status="failed")
    # A current vector whose text changed since: pending again, so it is redone too.
    stale = await add_note(
        db_session,
        user,
        "Stale",
        "text",
        embedding=embedder.embed_query("x"),
        embedding_model=TEST_MODEL_ID,
        embedding_status="pending",
        embedded_at=earlier,
    )
    embedder.calls.clear()

    embedded = await service.reembed_all(Note, batch_size=2)

    assert embedded == 4
    assert [len(call) for call in embedder.calls] == [2, 2]
    sent = {text.split("\n")[0] for call in embedder.calls for text in call}
    assert sent == {"Old model", "Pending", "Failed", "Stale"}
    for note in (old, pending, failed, stale):
        await reload(db_session, note)
        assert (note.embedding_status, note.embedding_model) == ("ready", TEST_MODEL_ID)
        assert note.embedded_at is not None
        assert note.embedded_at > earlier
    await reload(db_session, current)
    assert current.embedded_at == earlier


async def test_reembed_all_passes_failing_rows_once(db_session: AsyncSession) -> None:
    user = await create_user(db_session)
    for n in range(3):
        await add_note(db_session, user, f"Note {n}", "text")
    service = EmbeddingService(db_session, FailingEmbedder(), TEST_MODEL_ID)

    assert await service.reembed_all(Note, batch_size=2) == 0

    statuses = await db_session.scalars(select(Note.embedding_status))
    assert set(statuses) == {"failed"}


async def test_cosine_search_finds_the_closest_resource_of_the_current_model(
    db_session: AsyncSession, service: EmbeddingService
) -> None:
    user = await create_user(db_session)
    titles = {
        "algebra": "Eigenvalues and eigenvectors of a matrix",
        "french": "French grammar: when to use the subjunctive",
        "biology": "Photosynthesis: how plant cells make sugar",
    }
    resources = {
        key: await add_resource(db_session, user, title, f"An introduction to {title.lower()}.")
        for key, title in titles.items()
    }
    await service.embed_pending(Resource, [r.id for r in resources.values()])
    query = await service.embed_query("how do I find the eigenvalues of a matrix")

    distance = Resource.embedding.cosine_distance(query)
    ranked = await db_session.scalars(
        select(Resource.title)
        .where(Resource.user_id == user.id, Resource.embedding_model == TEST_MODEL_ID)
        .order_by(distance)
    )

    assert next(iter(ranked)) == titles["algebra"]


async def test_query_embedding_failure_is_a_503(db_session: AsyncSession) -> None:
    service = EmbeddingService(db_session, FailingEmbedder(), TEST_MODEL_ID)
    with pytest.raises(EmbeddingUnavailableError) as caught:
        await service.embed_query("eigenvalues")
    assert caught.value.status_code == 503


# --- the background path ---------------------------------------------------------------------


@pytest.fixture
def background_sessionmaker(db_session: AsyncSession) -> async_sessionmaker[AsyncSession]:
    """Sessions of their own (as after a response) on the test's connection and transaction."""
    connection = db_session.bind
    assert isinstance(connection, AsyncConnection)
    return async_sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


async def test_background_embedding_commits_in_its_own_unit_of_work(
    db_session: AsyncSession, background_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await create_user(db_session)
    note = await add_note(db_session, user, "Eigenvalues", "Av = λv")

    await embed_in_background(
        background_sessionmaker, HashingEmbedder(), TEST_MODEL_ID, Note, [note.id]
    )

    await db_session.refresh(note, ["embedding_status"])
    assert note.embedding_status == "ready"


async def test_background_embedding_never_raises(
    db_session: AsyncSession, background_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await create_user(db_session)
    note = await add_note(db_session, user, "Eigenvalues", "Av = λv")

    await embed_in_background(
        background_sessionmaker, FailingEmbedder(), TEST_MODEL_ID, Note, [note.id]
    )
    await db_session.refresh(note, ["embedding_status"])
    assert note.embedding_status == "failed"

    # The database going away must not escape into the server's background task runner.
    unreachable = async_sessionmaker(
        create_test_engine("postgresql+asyncpg://nobody@127.0.0.1:9/x")
    )
    await embed_in_background(unreachable, HashingEmbedder(), TEST_MODEL_ID, Note, [note.id])
    await unreachable.kw["bind"].dispose()


# --- studypilot reembed ----------------------------------------------------------------------


@pytest.fixture
async def committed_user(database_url: str) -> AsyncIterator[uuid.UUID]:
    """A user committed for real: `reembed` works through connections of its own, which cannot
    see a test's uncommitted rows. Deleted afterwards (notes cascade) so later tests start empty."""
    engine = create_test_engine(database_url)
    user_id = uuid.uuid4()
    async with AsyncSession(engine) as session, session.begin():
        session.add(
            User(id=user_id, email=f"{user_id}@example.com", name="Reembed", password_hash="x")
        )
    try:
        yield user_id
    finally:
        async with AsyncSession(engine) as session, session.begin():
            await session.execute(delete(User).where(User.id == user_id))
        await engine.dispose()


async def test_reembed_command_embeds_in_committed_batches(
    database_url: str, committed_user: uuid.UUID
) -> None:
    engine = create_test_engine(database_url)
    async with AsyncSession(engine) as session, session.begin():
        session.add_all(
            Note(user_id=committed_user, title=f"Note {n}", body="text", tags=[]) for n in range(5)
        )
        session.add(Resource(user_id=committed_user, title="Video", type="video", tags=[]))
    settings = Settings(env="test", database_url=database_url)

    counts = await reembed(settings, HashingEmbedder(), TEST_MODEL_ID, ["notes"], batch_size=2)

    assert (counts["notes"].embedded, counts["notes"].failed) == (5, 0)
    async with AsyncSession(engine) as session:
        note_statuses = await session.scalars(
            select(Note.embedding_status).where(Note.user_id == committed_user)
        )
        resource_statuses = await session.scalars(
            select(Resource.embedding_status).where(Resource.user_id == committed_user)
        )
        assert list(note_statuses) == ["ready"] * 5
        assert list(resource_statuses) == ["pending"]  # --model notes leaves resources alone
    await engine.dispose()


async def test_reembed_covers_document_passages(
    database_url: str, committed_user: uuid.UUID
) -> None:
    engine = create_test_engine(database_url)
    async with AsyncSession(engine) as session, session.begin():
        document = Document(
            user_id=committed_user,
            title="Reader",
            tags=[],
            filename="reader.md",
            kind="markdown",
            content_type="text/markdown",
            size_bytes=10,
            sha256="0" * 64,
            storage_key="k",
            status="ready",
            chunk_count=1,
        )
        session.add(document)
        await session.flush()
        session.add(
            DocumentChunk(
                document_id=document.id,
                user_id=committed_user,
                position=0,
                text="Helicase unwinds DNA.",
                headings=["Replication"],
                char_start=0,
                char_end=21,
                embedding_status="pending",
            )
        )
    settings = Settings(env="test", database_url=database_url)
    embedder = HashingEmbedder()

    counts = await reembed(settings, embedder, TEST_MODEL_ID, ["document_chunks"])

    assert (counts["document_chunks"].embedded, counts["document_chunks"].failed) == (1, 0)
    # The passage is embedded under its heading path.
    assert embedder.calls == [["Replication\nHelicase unwinds DNA."]]
    async with AsyncSession(engine) as session:
        status = await session.scalar(
            select(DocumentChunk.embedding_status).where(DocumentChunk.user_id == committed_user)
        )
        assert status == "ready"
    await engine.dispose()
