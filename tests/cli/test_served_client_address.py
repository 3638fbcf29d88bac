"""Behind the real server (`studypilot run`, uvicorn): forwarded client addresses are believed
from STUDYPILOT_TRUSTED_PROXIES only; uvicorn's own proxy handling is off."""

import itertools
import shutil
from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures.database import server_tempdir
from tests.fixtures.stack import Stack, free_port

_emails = (f"served{n}@example.com" for n in itertools.count())


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    workdir = server_tempdir("studypilot-proxy-")
    running = Stack(
        workdir / "data",
        free_port(),
        STUDYPILOT_TRUSTED_PROXIES='["127.0.0.1"]',
        STUDYPILOT_REGISTER_LIMIT_PER_CLIENT="2/hour",
        # Without Redis each API process counts on its own: one process, one count.
        STUDYPILOT_WORKERS="1",
    )
    try:
        running.wait_healthy()
        yield running
    finally:
        running.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _register_from(stack: Stack, peer: str, forwarded_for: str) -> int:
    # Linux answers on all of 127.0.0.0/8: 127.0.0.2 is a second, untrusted peer.
    transport = httpx.HTTPTransport(local_address=peer)
    with httpx.Client(transport=transport) as client:
        response = client.post(
            f"{stack.base}/auth/register",
            json={"email": next(_emails), "password": "a long password"},
            headers={"X-Forwarded-For": forwarded_for},
        )
    return response.status_code


def test_an_untrusted_peer_cannot_choose_its_address(stack: Stack) -> None:
    codes = [_register_from(stack, "127.0.0.2", f"198.51.100.{n}") for n in range(3)]
    assert codes == [201, 201, 429]


def test_the_trusted_proxy_gives_each_client_its_own_limit(stack: Stack) -> None:
    codes = [_register_from(stack, "127.0.0.1", "203.0.113.1") for _ in range(3)]
    assert codes == [201, 201, 429]
    assert _register_from(stack, "127.0.0.1", "203.0.113.2") == 201
