"""The API with documents in an S3-compatible bucket (moto's server on 127.0.0.1): an upload
lands in the bucket under `<user>/<document>`, is processed from there, and is served back."""

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.security import TokenCodec
from domain.documents.storage_s3 import S3DocumentStorage
from tests.fixtures.client import api_client, running_app
from tests.fixtures.documents import pdf_bytes
from tests.fixtures.factories.users import auth_headers, create_user
from tests.fixtures.s3 import S3Bucket


@pytest.fixture
async def s3_app(
    settings: Settings, s3_bucket: S3Bucket, db_session: AsyncSession
) -> AsyncIterator[FastAPI]:
    async with running_app(s3_bucket.settings(settings), db_session) as application:
        yield application


async def test_an_upload_is_stored_in_the_bucket_processed_and_served(
    s3_app: FastAPI, s3_bucket: S3Bucket, db_session: AsyncSession, codec: TokenCodec
) -> None:
    assert isinstance(s3_app.state.document_storage, S3DocumentStorage)
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    pdf = pdf_bytes(["Cells and membranes.", "Diffusion of gases."])

    async with api_client(s3_app) as client:
        accepted = await client.post(
            "/documents", headers=headers, files={"file": ("bio.pdf", pdf, "application/pdf")}
        )
        assert accepted.status_code == 202, accepted.text
        document_id = accepted.json()["id"]
        key = f"{user.id}/{document_id}"
        assert s3_bucket.keys() == [key]
        assert s3_bucket.read(key) == pdf

        # Processing read the object back through a local copy.
        read = (await client.get(f"/documents/{document_id}", headers=headers)).json()
        assert (read["status"], read["page_count"], read["chunk_count"]) == ("ready", 2, 2)

        content = await client.get(f"/documents/{document_id}/content", headers=headers)
        assert content.status_code == 200
        assert content.content == pdf

        deleted = await client.delete(f"/documents/{document_id}", headers=headers)
        assert deleted.status_code == 204
    assert s3_bucket.keys() == []


async def test_a_store_that_refuses_answers_503_and_keeps_nothing(
    settings: Settings, s3_bucket: S3Bucket, db_session: AsyncSession, codec: TokenCodec
) -> None:
    """A bucket that is not there (a typo in the settings, deleted): the upload is refused with
    the error shape and Retry-After, and no document row is left."""
    missing = S3Bucket(s3_bucket.endpoint_url, f"{s3_bucket.name}-missing")
    user = await create_user(db_session)
    headers = auth_headers(codec, user)
    async with (
        running_app(missing.settings(settings), db_session) as application,
        api_client(application) as client,
    ):
        refused = await client.post(
            "/documents",
            headers=headers,
            files={"file": ("bio.pdf", pdf_bytes(["Cells."]), "application/pdf")},
        )
        listed = await client.get("/documents", headers=headers)
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "storage_unavailable"
    assert refused.headers["Retry-After"] == "5"
    assert listed.json()["items"] == []
