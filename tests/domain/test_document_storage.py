"""One contract for every document storage: the local filesystem and an S3-compatible bucket
(moto's server on 127.0.0.1) are built by the same factory the API uses and must answer alike."""

import os
import uuid
from pathlib import Path

import pytest

from core.config import Settings
from domain.documents.storage import (
    DocumentStorage,
    DocumentStorageUnavailableError,
    LocalDocumentStorage,
    StoredFileMissingError,
    document_storage,
)
from domain.documents.storage_s3 import S3DocumentStorage
from tests.fixtures.client import test_settings
from tests.fixtures.s3 import S3Bucket


@pytest.fixture(params=["local", "s3"])
def broken_storage(request: pytest.FixtureRequest, tmp_path: Path) -> DocumentStorage:
    """A store that cannot take a file: a regular file where the local root should be (no
    directory can be made under it, even as root); a bucket that does not exist."""
    blocked = tmp_path / "documents"
    blocked.write_bytes(b"not a directory")
    settings = _settings(blocked)
    if request.param == "s3":
        bucket: S3Bucket = request.getfixturevalue("s3_bucket")
        settings = S3Bucket(bucket.endpoint_url, f"{bucket.name}-missing").settings(settings)
    return document_storage(settings)


def _key() -> str:
    return f"{uuid.uuid4()}/{uuid.uuid4()}"


def _stored_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _settings(documents_dir: Path) -> Settings:
    return test_settings("postgresql+asyncpg://unused/unused", documents_dir)


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> DocumentStorage:
    settings = _settings(tmp_path / "documents")
    if request.param == "s3":
        bucket: S3Bucket = request.getfixturevalue("s3_bucket")
        settings = bucket.settings(settings)
    return document_storage(settings)


def test_the_factory_picks_the_backend_from_the_settings(
    tmp_path: Path, s3_bucket: S3Bucket
) -> None:
    local = _settings(tmp_path)
    assert isinstance(document_storage(local), LocalDocumentStorage)
    remote = document_storage(s3_bucket.settings(local))
    assert isinstance(remote, S3DocumentStorage)
    assert remote.bucket == s3_bucket.name


async def test_put_then_get_is_the_same_bytes(storage: DocumentStorage) -> None:
    key, data = _key(), os.urandom(300_000)
    await storage.put(key, data)
    assert await storage.get(key) == data
    # A second put replaces the first whole.
    await storage.put(key, b"second")
    assert await storage.get(key) == b"second"


async def test_local_path_is_a_readable_file_with_the_bytes(storage: DocumentStorage) -> None:
    key, data = _key(), os.urandom(70_000)
    await storage.put(key, data)
    async with storage.local_path(key) as path:
        assert path.is_file()
        assert path.read_bytes() == data
    if isinstance(storage, S3DocumentStorage):
        # The copy lives only as long as the context.
        assert not path.exists()
        assert not path.parent.exists()
    assert await storage.get(key) == data


async def test_a_missing_key_is_stored_file_missing(storage: DocumentStorage) -> None:
    key = _key()
    with pytest.raises(StoredFileMissingError):
        await storage.get(key)
    with pytest.raises(StoredFileMissingError):
        async with storage.local_path(key):
            pytest.fail("a missing key gave a path")


async def test_delete_removes_and_deleting_twice_is_fine(storage: DocumentStorage) -> None:
    key, other = _key(), _key()
    await storage.put(key, b"gone soon")
    await storage.put(other, b"stays")
    await storage.delete(key)
    await storage.delete(key)
    with pytest.raises(StoredFileMissingError):
        await storage.get(key)
    assert await storage.get(other) == b"stays"


async def test_keys_are_user_then_document_paths(tmp_path: Path, s3_bucket: S3Bucket) -> None:
    user, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    settings = _settings(tmp_path)
    local, remote = document_storage(settings), document_storage(s3_bucket.settings(settings))
    for storage in (local, remote):
        await storage.put(f"{user}/{first}", b"1")
        await storage.put(f"{user}/{second}", b"2")
    expected = sorted([f"{user}/{first}", f"{user}/{second}"])
    assert _stored_files(tmp_path) == expected
    assert s3_bucket.keys() == expected
    assert await remote.get(f"{user}/{second}") == s3_bucket.read(f"{user}/{second}") == b"2"


async def test_a_store_that_cannot_write_is_unavailable(broken_storage: DocumentStorage) -> None:
    with pytest.raises(DocumentStorageUnavailableError):
        await broken_storage.put(_key(), b"%PDF-")
