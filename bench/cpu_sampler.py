"""A sampling CPU profiler for this process: py-spy's method, in process.

Every `interval` of the process's CPU time (SIGPROF) the main thread's Python stack is recorded.
Waiting (for the model, Postgres, the idle event loop) uses no CPU, so it is never sampled, and a
suspended coroutine cannot collect time; time in C code lands on the Python function that called
it. Unlike cProfile it does not slow every Python call down, so call-heavy code keeps its real
share (cProfile inflated this workload 2-7x, unevenly).
"""

import signal
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import FrameType, TracebackType
from typing import Self

REPO_ROOT = Path(__file__).resolve().parent.parent

Key = tuple[str, int, str]  # file, first line, function
GENERATED = "generated code"
Stack = tuple[Key, ...]  # innermost first


class CpuSampler:
    def __init__(self, interval_seconds: float = 0.0005) -> None:
        self.interval = interval_seconds
        self.stacks: Counter[Stack] = Counter()
        self._previous: signal.Handlers | object | None = None

    def _sample(self, signum: int, frame: FrameType | None) -> None:
        stack = []
        while frame is not None:
            code = frame.f_code
            stack.append((code.co_filename, code.co_firstlineno, code.co_name))
            frame = frame.f_back
        self.stacks[tuple(stack)] += 1

    def __enter__(self) -> Self:
        self._previous = signal.signal(signal.SIGPROF, self._sample)
        signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, self._previous)  # type: ignore[arg-type]


@cache
def package(filename: str) -> str:
    """`langgraph`, `ours: agents`, `stdlib: typing`..."""
    parts = Path(filename).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py").split(".")[0]
    if filename.startswith("<frozen "):
        return f"stdlib: {filename.removeprefix('<frozen ').rstrip('>').split('.')[0]}"
    if filename.startswith("<"):
        return GENERATED  # code made at run time (dataclass and ORM __init__s, ...)
    if Path(filename).resolve().is_relative_to(REPO_ROOT):
        return f"ours: {Path(filename).resolve().relative_to(REPO_ROOT).parts[0]}"
    stdlib = next((i for i, part in enumerate(parts) if part.startswith("python3")), None)
    if stdlib is not None and stdlib + 1 < len(parts):
        return f"stdlib: {parts[stdlib + 1].removesuffix('.py')}"
    return "other"


@cache
def label(key: Key) -> str:
    filename, line, function = key
    parts = Path(filename).parts
    short = "/".join(parts[-2:])
    if "site-packages" in parts:
        short = "/".join(parts[parts.index("site-packages") + 1 :])
    elif not filename.startswith("<") and Path(filename).resolve().is_relative_to(REPO_ROOT):
        short = str(Path(filename).resolve().relative_to(REPO_ROOT))
    return f"{short}:{line} {function}"


def _owner(stack: Stack) -> Key:
    """The innermost frame outside the standard library and generated code: whose code asked
    for this CPU (those work for their caller). Event-loop internals alone stay themselves."""
    for key in stack:
        owner = package(key[0])
        if not owner.startswith("stdlib: ") and owner != GENERATED:
            return key
    return stack[0]


@dataclass(frozen=True)
class Summary:
    samples: int
    by_package: list[tuple[str, float]]  # share of samples, largest first
    by_function: list[tuple[str, float]]
    inclusive: list[tuple[str, float]]  # share of samples with the function anywhere on the stack


def summarize(stacks: Counter[Stack], selected: Sequence[tuple[str, str]]) -> Summary:
    """`selected`: (file path suffix, function name) pairs for the inclusive shares."""
    total = sum(stacks.values()) or 1
    packages: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for stack, count in stacks.items():
        owner = _owner(stack)
        owner_package = package(owner[0])
        packages[owner_package] += count
        functions[label(owner)] += count
        for suffix, function in selected:
            if any(f == function and file.endswith(suffix) for file, _, f in stack):
                inclusive[f"{suffix} {function}"] += count
    return Summary(
        samples=total,
        by_package=[(name, n / total) for name, n in packages.most_common()],
        by_function=[(name, n / total) for name, n in functions.most_common()],
        inclusive=[
            (f"{suffix} {function}", inclusive[f"{suffix} {function}"] / total)
            for suffix, function in selected
        ],
    )
