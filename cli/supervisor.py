"""Runs the stack's processes as children and stops them all, in reverse order, on the way out.

The supervisor exits when it is asked to (SIGINT/SIGTERM) or when an essential child dies: a
stack with a dead database or API is not one to keep serving half of. A restartable child (the
workflow worker, which holds no state of its own: Temporal keeps it) is started again instead,
after a backoff that grows while it keeps dying and resets once it has run for a while.
"""

import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

import structlog

logger = structlog.get_logger("studypilot.supervisor")
STOP_TIMEOUT_SECONDS = 30.0
RESTART_BACKOFF_INITIAL_SECONDS = 0.5
RESTART_BACKOFF_MAX_SECONDS = 30.0
# A child that ran this long before dying is restarted after the initial backoff again.
RESTART_BACKOFF_RESET_SECONDS = 60.0

Spawn = Callable[[], subprocess.Popen[bytes]]


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    stop_signal: signal.Signals
    restart: Spawn | None = None
    started_at: float = 0.0
    backoff: float = RESTART_BACKOFF_INITIAL_SECONDS
    restarts: int = 0


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
        """An essential child: its death stops the stack."""
        self._add(Child(name, process, stop_signal))

    def adopt_restartable(
        self, name: str, spawn: Spawn, stop_signal: signal.Signals = signal.SIGTERM
    ) -> None:
        """A child started by `spawn`, and started again by it whenever it dies."""
        self._add(Child(name, spawn(), stop_signal, restart=spawn))

    def _add(self, child: Child) -> None:
        child.started_at = time.monotonic()
        self.children.append(child)
        self._watch_in_background(child.process)
        logger.info("child_started", child=child.name, pid=child.process.pid)

    def _watch_in_background(self, process: subprocess.Popen[bytes]) -> None:
        threading.Thread(target=self._watch, args=(process,), daemon=True).start()

    def _watch(self, process: subprocess.Popen[bytes]) -> None:
        process.wait()
        self._wake.set()

    def wait(self) -> int:
        """Block until a stop is requested or an essential child exits; return the exit code."""
        while True:
            self._wake.wait()
            self._wake.clear()
            if self.stop_requested:
                return 0
            for child in self.children:
                if child.process.poll() is None:
                    continue
                if child.restart is None:
                    logger.error(
                        "child_exited", child=child.name, returncode=child.process.returncode
                    )
                    return 1
                if not self._restart(child):
                    return 0
                # The backoff may have swallowed another child's exit: look again.
                self._wake.set()

    def _restart(self, child: Child) -> bool:
        """Start `child` again after its backoff; False when a stop was requested meanwhile."""
        assert child.restart is not None
        if time.monotonic() - child.started_at >= RESTART_BACKOFF_RESET_SECONDS:
            child.backoff = RESTART_BACKOFF_INITIAL_SECONDS
        logger.warning(
            "child_restarting",
            child=child.name,
            returncode=child.process.returncode,
            backoff_seconds=child.backoff,
        )
        # Interrupted early by a stop request (the signal handler sets the same event).
        if self._wake.wait(timeout=child.backoff) and self.stop_requested:
            return False
        child.backoff = min(child.backoff * 2, RESTART_BACKOFF_MAX_SECONDS)
        child.process = child.restart()
        child.started_at = time.monotonic()
        child.restarts += 1
        self._watch_in_background(child.process)
        logger.info(
            "child_started", child=child.name, pid=child.process.pid, restarts=child.restarts
        )
        return True

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
