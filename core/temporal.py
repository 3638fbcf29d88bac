"""The Temporal client every process (API, worker, CLI) builds the same way from the settings.

Payloads go through the pydantic data converter: workflow and activity inputs are pydantic
models, and a `datetime` inside a plain dataclass does not survive the default converter in the
workflow sandbox.
"""

from datetime import timedelta

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig

from core.config import Settings

CONNECT_TIMEOUT = timedelta(seconds=5)


class TemporalNotConfiguredError(RuntimeError):
    pass


def tls_config(settings: Settings) -> TLSConfig | bool:
    if settings.temporal_tls_cert is not None and settings.temporal_tls_key is not None:
        return TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes(),
            client_private_key=settings.temporal_tls_key.read_bytes(),
        )
    return settings.temporal_tls or settings.temporal_api_key is not None


async def connect_temporal(settings: Settings, *, lazy: bool = False) -> Client:
    """`lazy`: connect on first use, so an API process starts while Temporal is still down."""
    if settings.temporal_address is None:
        raise TemporalNotConfiguredError(
            "TEMPORAL_ADDRESS is not set; `studypilot run` sets it for the embedded server"
        )
    api_key = settings.temporal_api_key
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        tls=tls_config(settings),
        api_key=api_key.get_secret_value() if api_key is not None else None,
        connect_timeout=CONNECT_TIMEOUT,
        lazy=lazy,
    )
