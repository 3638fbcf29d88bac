"""Schemathesis fuzzes the published OpenAPI of a running stack: no 500, no undocumented status."""

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.database import server_tempdir
from tests.fixtures.stack import Stack, free_port
from tests.support.scripted_openai import Answer, Reply, ScriptedOpenAI, ToolCall, ToolCalls

# Cross-field rules (end after start, ...) cannot be said in JSON Schema, so "schema-valid data
# is accepted" is not checked; everything about responses is.
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)
EXAMPLES_PER_OPERATION = 60
# 502 and 503 are the AI endpoints' documented answers to a provider's bad output; any other
# 5xx (a 500 above all) fails. status_code_conformance still requires each to be documented.
CONFIG = """
[checks.not_a_server_error]
expected-statuses = ["2xx", "3xx", "4xx", "502", "503"]
"""


def answer_anything(request: dict[str, Any]) -> Reply:
    """A model for the fuzzed stack: plain calls get an answer, so the AI endpoints run whole;
    forced structured output gets empty arguments, which the API must refuse as a 502."""
    forced = request.get("tool_choice")
    if isinstance(forced, dict):
        return ToolCalls([ToolCall(forced["function"]["name"], {})])
    return Answer("A short answer.")


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    workdir = server_tempdir("studypilot-fuzz-")
    with ScriptedOpenAI(responder=answer_anything) as model:
        # Throttling would turn the fuzzer's calls into 429s and hide the answers behind them.
        running = Stack(
            workdir / "data",
            free_port(),
            STUDYPILOT_LOGIN_LIMIT_PER_EMAIL="100000/minute",
            STUDYPILOT_LOGIN_LIMIT_PER_CLIENT="100000/minute",
            STUDYPILOT_REGISTER_LIMIT_PER_CLIENT="100000/minute",
            STUDYPILOT_AI_REQUESTS_PER_MINUTE="100000",
            STUDYPILOT_AI_TOKENS_PER_DAY="100000000",
            STUDYPILOT_LLM_MODEL="gpt-fuzz",
            OPENAI_BASE_URL=model.base_url,
            OPENAI_API_KEY="fuzz",
            # Generated URLs must never be resolved or fetched: tests stay on 127.0.0.0/8.
            STUDYPILOT_URL_FETCH_ENABLED="false",
        )
        try:
            running.wait_healthy()
            yield running
        finally:
            running.stop()
            shutil.rmtree(workdir, ignore_errors=True)


def test_fuzzing_the_published_spec_finds_no_server_error(stack: Stack, tmp_path: Path) -> None:
    account = {"email": "fuzz@example.com", "password": "a long password"}
    httpx.post(f"{stack.base}/auth/register", json=account).raise_for_status()
    token = httpx.post(f"{stack.base}/auth/login", json=account).json()["access_token"]
    (tmp_path / "schemathesis.toml").write_text(CONFIG)
    result = subprocess.run(  # noqa: S603
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"http://127.0.0.1:{stack.port}/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            CHECKS,
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--seed",
            "20261124",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:]
