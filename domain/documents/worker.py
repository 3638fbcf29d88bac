"""What runs inside an extraction worker process besides extraction: the local embedding model.

In the API process, embedding runs in a thread that needs the GIL between torch's operations;
under request load the event loop holds it nearly all the time and a batch of passages made no
progress for seconds (bench/RESULTS-documents.md). A worker process has a GIL of its own.
"""

import os
import threading
import time
from pathlib import Path

from domain.embeddings.embedder import LocalEmbedder

# How often a worker looks whether the process that started it is still there.
PARENT_CHECK_SECONDS = 1.0

# One model per worker process and model directory, loaded on the first batch.
_embedders: dict[Path | None, LocalEmbedder] = {}


def embed_locally(model_dir: Path | None, texts: list[str]) -> list[list[float]]:
    return _embedder(model_dir).embed_documents(texts)


def load_locally(model_dir: Path | None) -> None:
    """Warm-up: load the model now, so the first document does not wait for it."""
    _embedder(model_dir).load()


def _embedder(model_dir: Path | None) -> LocalEmbedder:
    return _embedders.setdefault(model_dir, LocalEmbedder(model_dir))


def exit_with_parent(parent_pid: int) -> None:
    """The pool's initializer: end this worker when its parent is gone. A parent that dies
    without shutting its pool down (SIGKILL, `os._exit`) would otherwise leave workers holding
    half a gigabyte each, waiting for work that never comes."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
