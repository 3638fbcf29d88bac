"""Where document files live: a small interface, the local filesystem by default, an
S3-compatible bucket when one is configured.

Keys are `<user id>/<document id>`: made by the service, never from a client's file name.
"""

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Protocol

from core.config import Settings
from core.errors import RetryLaterError


class StoredFileMissingError(Exception):
    pass


class DocumentStorageUnavailableError(RetryLaterError):
    """The store did not answer or refused (unreachable, a missing bucket, no permission): the
    request did not happen, and nothing of it was kept."""

    status_code = 503
    code = "storage_unavailable"

    def __init__(self) -> None:
        super().__init__("The document store is unavailable; try again later.", 5)


class DocumentStorage(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes:
        """Raises StoredFileMissingError when there is nothing under `key`."""
        ...

    def local_path(self, key: str) -> AbstractAsyncContextManager[Path]:
        """The file as a path on this machine for as long as the context lasts (a copy for
        remote backends): loaders read paths."""
        ...

    async def delete(self, key: str) -> None:
        """Nothing under `key` is not an error: deleting twice is deleting."""
        ...


class LocalDocumentStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"storage key outside the store: {key!r}")
        return path

    async def put(self, key: str, data: bytes) -> None:
        try:
            await asyncio.to_thread(self._put, self._path(key), data)
        except OSError as exc:
            # A full disk, a read-only mount, a directory made unwritable under us.
            raise DocumentStorageUnavailableError() from exc

    @staticmethod
    def _put(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Written aside then renamed: a reader never sees half a file.
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError as exc:
            raise StoredFileMissingError(key) from exc

    @asynccontextmanager
    async def local_path(self, key: str) -> AsyncIterator[Path]:
        path = self._path(key)
        if not path.is_file():
            raise StoredFileMissingError(key)
        yield path

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)


def document_storage(settings: Settings) -> DocumentStorage:
    """The storage the settings name: every entry point builds it here, so the API and the
    processing outside it always read and write the same place."""
    if settings.document_s3_bucket is None:
        return LocalDocumentStorage(settings.document_storage_dir)
    # boto3 takes a third of a second to import: only a deployment with a bucket pays it.
    from domain.documents.storage_s3 import s3_document_storage

    return s3_document_storage(settings, settings.document_s3_bucket)
