"""The chat benchmark's model: an OpenAI-compatible stub that answers every request after a fixed
delay, with a tool call first and a final answer once the tool's result is in the request.

It is `tests.support.scripted_openai.ScriptedOpenAI` (real HTTP, real OpenAI wire format,
streaming included) run in a process of its own, so its CPU does not compete with the measured
code for the measuring process's GIL and event loop:

    python -m bench.chat_stub --delay 0.05

prints its base URL on one line, then serves until its stdin closes (the parent exits) or it
is terminated. `StubProcess` starts and stops it; `StubInThread` runs the same stub in a thread
of the caller's process, for comparison.
"""

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from tests.support.scripted_openai import Answer, Reply, ScriptedOpenAI, ToolCall, ToolCalls

REPO_ROOT = Path(__file__).resolve().parent.parent
DELAY_SECONDS = 0.05
TOOL_NAME = "list_goals"
TOOL_ARGUMENTS: dict[str, Any] = {"status": "active"}
ANSWER = (
    "You have no active goals yet. Want to set one for this week, say two hours of calculus "
    "practice?"
)
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0


def tool_then_answer(request: dict[str, Any]) -> Reply:
    """A tool call, then (once the request carries the tool's result) the final answer."""
    messages = request.get("messages") or [{}]
    if messages[-1].get("role") == "tool":
        return Answer(ANSWER)
    return ToolCalls([ToolCall(TOOL_NAME, TOOL_ARGUMENTS)])


class StubProcess:
    """`python -m bench.chat_stub` as a child process; `base_url` once entered."""

    def __init__(self, delay_seconds: float = DELAY_SECONDS) -> None:
        self.delay_seconds = delay_seconds
        self._process: subprocess.Popen[str] | None = None
        self.base_url = ""

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def __enter__(self) -> Self:
        argv = [sys.executable, "-m", "bench.chat_stub", "--delay", str(self.delay_seconds)]
        self._process = subprocess.Popen(  # noqa: S603 - fixed argv: our interpreter, our module
            argv, cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self._process.stdout is not None
        # The first line is the base URL, printed once the socket listens.
        line = self._process.stdout.readline().strip()
        if not line.startswith("http://"):
            self.__exit__(None, None, None)
            raise RuntimeError(f"the stub did not start (said {line!r})")
        self.base_url = line
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class StubInThread:
    """The same stub in a thread of this process (it then shares this process's GIL)."""

    def __init__(self, delay_seconds: float = DELAY_SECONDS) -> None:
        self._server = ScriptedOpenAI(responder=tool_then_answer, delay_seconds=delay_seconds)
        self.pid = os.getpid()
        self.base_url = ""

    def __enter__(self) -> Self:
        self._server.__enter__()
        self.base_url = self._server.base_url
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.__exit__(exc_type, exc, traceback)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delay", type=float, default=DELAY_SECONDS, help="seconds per answer")
    args = parser.parse_args()
    # SIGTERM ends the process through the normal exit path, closing the server cleanly.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with ScriptedOpenAI(responder=tool_then_answer, delay_seconds=args.delay) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()  # until the parent closes our stdin or exits


if __name__ == "__main__":
    main()
