"""Document files in one bucket of S3 or an S3-compatible store (`STUDYPILOT_DOCUMENT_S3_*`)."""

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from core.config import Settings
from domain.documents.storage import DocumentStorageUnavailableError, StoredFileMissingError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


# What S3 answers for an absent key: GetObject says NoSuchKey, a HEAD (as boto3's download
# helpers make first) only its status.
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def _is_missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in _MISSING_CODES


@contextmanager
def _answered(key: str) -> Iterator[None]:
    """An absent object is StoredFileMissingError; any other failure of the store (after
    boto3's own retries) is DocumentStorageUnavailableError, a 503, never a 500."""
    try:
        yield
    except ClientError as exc:
        if _is_missing(exc):
            raise StoredFileMissingError(key) from exc
        raise DocumentStorageUnavailableError() from exc
    except BotoCoreError as exc:
        raise DocumentStorageUnavailableError() from exc


class S3DocumentStorage:
    """Objects in one bucket of S3 or an S3-compatible store. boto3 blocks, so every call runs
    in a thread; its clients are thread-safe, so one serves the whole storage."""

    def __init__(self, client: "S3Client", bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    async def put(self, key: str, data: bytes) -> None:
        # A PUT replaces the object whole: a reader never sees half a file.
        with _answered(key):
            await asyncio.to_thread(self.client.put_object, Bucket=self.bucket, Key=key, Body=data)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._get, key)

    def _get(self, key: str) -> bytes:
        with _answered(key):
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            with response["Body"] as body:
                return body.read()

    @asynccontextmanager
    async def local_path(self, key: str) -> AsyncIterator[Path]:
        directory = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="studypilot-document-"))
        try:
            path = directory / "document"
            await asyncio.to_thread(self._download, key, path)
            yield path
        finally:
            await asyncio.to_thread(shutil.rmtree, directory, ignore_errors=True)

    def _download(self, key: str, path: Path) -> None:
        with _answered(key):
            self.client.download_file(self.bucket, key, str(path))

    async def delete(self, key: str) -> None:
        # S3 answers 204 for an absent key too: deleting twice is deleting.
        with _answered(key):
            await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=key)


def s3_document_storage(settings: Settings, bucket: str) -> S3DocumentStorage:
    config = Config(retries={"mode": "standard"})
    if settings.document_s3_endpoint_url is not None:
        # S3-compatible stores (MinIO, R2, ...) serve buckets as paths and do not all check
        # the flexible checksums newer boto3 sends by default.
        config = config.merge(
            Config(
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
        )
    # A session of its own: boto3's default session is shared module state, not thread-safe.
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=settings.document_s3_endpoint_url,
        region_name=settings.document_s3_region,
        config=config,
    )
    return S3DocumentStorage(client, bucket)
