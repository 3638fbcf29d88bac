from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.service import TLSConfig

from core.config import Settings
from core.temporal import TemporalNotConfiguredError, connect_temporal, tls_config
from tests.fixtures.client import test_settings


def _settings(**update: object) -> Settings:
    # Nothing here stores a document: the directory is never created.
    documents = Path("unused-documents")
    return test_settings("postgresql+asyncpg://u:p@127.0.0.1/test", documents).model_copy(
        update=update
    )


def test_tls_follows_the_settings(tmp_path: Path) -> None:
    assert tls_config(_settings()) is False
    assert tls_config(_settings(temporal_tls=True)) is True
    assert tls_config(_settings(temporal_api_key=SecretStr("k"))) is True
    (tmp_path / "c.pem").write_bytes(b"CERT")
    (tmp_path / "k.pem").write_bytes(b"KEY")
    mtls = tls_config(
        _settings(temporal_tls_cert=tmp_path / "c.pem", temporal_tls_key=tmp_path / "k.pem")
    )
    assert isinstance(mtls, TLSConfig)
    assert (mtls.client_cert, mtls.client_private_key) == (b"CERT", b"KEY")


async def test_connecting_without_an_address_says_what_to_set() -> None:
    with pytest.raises(TemporalNotConfiguredError, match="TEMPORAL_ADDRESS"):
        await connect_temporal(_settings())
