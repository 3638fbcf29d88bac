"""The embedded Postgres from a checkout in a private (0700) directory, as root runs it.

The unprivileged server user can reach neither the binaries inside the checkout's virtualenv
nor its data dir; both must move under the server root without any mode of ours widened.
"""

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from core.embedded_postgres import BIN_DIR, EmbeddedPostgres
from tests.fixtures.database import server_tempdir


@pytest.fixture
def private_checkout(tmp_path: Path) -> Iterator[Path]:
    checkout = tmp_path / "home" / "studypilot"
    checkout.mkdir(parents=True)
    (tmp_path / "home").chmod(0o700)
    # The virtualenv's server install and its libraries, where a private checkout keeps them.
    packages = BIN_DIR.parent.parent.parent
    for part in (BIN_DIR.parent, *packages.glob("embedded_postgres*.libs")):
        shutil.copytree(part, checkout / "venv" / part.relative_to(packages), symlinks=True)
    yield checkout
    (tmp_path / "home").chmod(0o755)


@pytest.fixture
def server_root() -> Iterator[Path]:
    root = server_tempdir("studypilot-server-root-") / "server"
    yield root
    shutil.rmtree(root.parent, ignore_errors=True)


def _execute(server: EmbeddedPostgres, sql: str) -> None:
    with psycopg.connect(server.url("postgres", "postgresql"), autocommit=True) as conn:
        conn.execute(sql)


def _query(server: EmbeddedPostgres, sql: str) -> object:
    with psycopg.connect(server.url("postgres", "postgresql"), autocommit=True) as conn:
        return conn.execute(sql).fetchone()


def _modes(root: Path) -> dict[Path, int]:
    return {path: path.stat().st_mode for path in (root, *root.rglob("*")) if not path.is_symlink()}


def test_a_private_checkout_runs_and_keeps_its_data_without_widening_anything(
    private_checkout: Path, server_root: Path
) -> None:
    data_dir = private_checkout / ".data"
    bin_dir = private_checkout / "venv" / "embedded_postgres" / "pginstall" / "bin"
    home = private_checkout.parent
    before = stat.S_IMODE(home.stat().st_mode)
    server = EmbeddedPostgres(data_dir, server_root=server_root, bin_dir=bin_dir)
    server.start()
    try:
        _execute(server, "CREATE TABLE kept (note text); INSERT INTO kept VALUES ('still here')")
        assert (
            _query(
                server,
                "SELECT version FROM pg_available_extension_versions WHERE name = 'vector' LIMIT 1",
            )
            is not None
        )
    finally:
        server.stop()
    checkout_modes = _modes(private_checkout / "venv")

    again = EmbeddedPostgres(data_dir, server_root=server_root, bin_dir=bin_dir)
    again.start()
    try:
        assert _query(again, "SELECT note FROM kept") == ("still here",)
        assert again.state == server.state  # the port and password recorded in the data dir
    finally:
        again.stop()

    assert stat.S_IMODE(home.stat().st_mode) == before == 0o700
    assert _modes(private_checkout / "venv") == checkout_modes
    assert (data_dir / "postgres.json").exists()
    assert stat.S_IMODE((data_dir / "postgres.json").stat().st_mode) == 0o600
    if os.geteuid() == 0:
        # The cluster and a copy of the binaries live under the server root, keyed as documented.
        assert server.cluster_dir.is_relative_to(server_root)
        assert server.bin_dir.is_relative_to(server_root)
        assert not (data_dir / "postgres").exists()
    else:
        assert server.cluster_dir == data_dir / "postgres"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the server to another user")
def test_run_explains_in_one_line_when_nothing_can_hold_the_server(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        STUDYPILOT_DATA_DIR=str(private / ".data"),
        # A path no one can create: nowhere to put what the server user cannot reach.
        STUDYPILOT_EMBEDDED_PG_SERVER_ROOT="/proc/studypilot",
    )
    result = subprocess.run(
        [sys.executable, "-m", "cli", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,  # a bound on a hang: the CLI imports slowly on a loaded machine
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("studypilot: the embedded Postgres cannot start: ")
    assert "STUDYPILOT_EMBEDDED_PG_SERVER_ROOT" in last_line
