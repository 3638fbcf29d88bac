"""Runs the stack's processes as children and stops them all, in reverse order, on the way out.

The supervisor exits when it is asked to (SIGINT/SIGTERM) or when any child dies: a stack with
a dead database or API is not one to keep serving half of.
"""

import signal
import subprocess
import threading
from dataclasses import dataclass
from types import FrameType

import structlog

logger = structlog.get_logger("studypilot.supervisor")
STOP_TIMEOUT_SECONDS = 30.0


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    stop_signal: signal.Signals


class Supervisor:
    def __init__(self) -> None:
        self.children: list[Child] = []
        self._wake = threading.Event()
        self.stop_requested = False

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        logger.info("stop_requested", signal=signal.Signals(signum).name)
        self.stop_requested = True
        self._wake.set()

    def adopt(
        self,
        name: str,
        process: subprocess.Popen[bytes],
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.children.append(Child(name, process, stop_signal))
        threading.Thread(target=self._watch, args=(process,), daemon=True).start()
        logger.info("child_started", child=name, pid=process.pid)

    def _watch(self, process: subprocess.Popen[bytes]) -> None:
        process.wait()
        self._wake.set()

    def wait(self) -> int:
        """Block until a stop is requested or a child exits; return the stack's exit code."""
        while True:
            self._wake.wait()
            self._wake.clear()
            if self.stop_requested:
                return 0
            for child in self.children:
                if child.process.poll() is not None:
                    logger.error(
                        "child_exited", child=child.name, returncode=child.process.returncode
                    )
                    return 1

    def stop_all(self) -> None:
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.send_signal(child.stop_signal)
                try:
                    child.process.wait(timeout=STOP_TIMEOUT_SECONDS)
                except subprocess.TimeoutExpired:
                    logger.warning("child_killed", child=child.name)
                    child.process.kill()
                    child.process.wait()
            logger.info("child_stopped", child=child.name, returncode=child.process.returncode)
