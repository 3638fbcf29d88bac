"""Closed-loop HTTP load at fixed concurrency: wrk when installed, else bench.http_client.

Both servers are driven by the same client, in the same run, one after the other; each phase is
a warm-up then a fixed duration. CPU time is accounted per party from /proc (server process,
every Postgres backend, the load generator, and whatever else ran on the machine meanwhile).
"""

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CONCURRENCY = 32
WARMUP_SECONDS = 3.0
DURATION_SECONDS = 15.0
WRK_THREADS = 1  # one event loop pushes far more than these servers answer; the other core serves

# Reads `path<TAB>token` lines, pre-builds the requests, picks one at random per request, and
# reports the latency histogram as JSON.
WRK_SCRIPT = r"""
local requests = {}
function init(args)
  for line in io.lines(args[1]) do
    local path, token = line:match("([^\t]+)\t([^\t]+)")
    requests[#requests + 1] = wrk.format("GET", path, {["Authorization"] = "Bearer " .. token})
  end
  math.randomseed(os.time() + tonumber(tostring(requests):sub(-6), 16))
end
function request()
  return requests[math.random(#requests)]
end
function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"errors_status":%d,"errors_socket":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class LoadResult:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    # CPU seconds per request, by party.
    server_cpu_ms: float = 0.0
    postgres_cpu_ms: float = 0.0
    client_cpu_ms: float = 0.0
    other_cpu_share: float = 0.0  # of the machine's CPU during the phase, used by none of ours

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


_use_python_client = False


def use_python_client() -> None:
    """Drive both servers with bench.http_client even when wrk is installed."""
    global _use_python_client
    _use_python_client = True


def wrk_path() -> str | None:
    return None if _use_python_client else shutil.which("wrk")


def client_name() -> str:
    if wrk_path():
        return f"wrk ({WRK_THREADS} thread, {CONCURRENCY} connections)"
    reason = "forced by --client python" if _use_python_client else "wrk not installed"
    return (
        f"bench.http_client ({reason}; Python asyncio, {CONCURRENCY} connections, heavier "
        "per request than wrk; `apt-get install -y wrk` to use wrk)"
    )


def _process_cpu_ticks(pid: int, *, reaped_children: bool = False) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime + cstime: exited, waited-for children
    return ticks


def _descendants_of(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        children = _children_of(frontier.pop())
        found += children
        frontier += children
    return found


def _children_of(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[1]) == pid:
                children.append(int(entry.name))
    return children


def _machine_busy_ticks() -> int:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values[:8]) - idle


class CpuMeter:
    """CPU ticks of the server, of Postgres (postmaster and every backend), and of the machine."""

    def __init__(self, server_pid: int, postmaster_pid: int) -> None:
        self.server_pid, self.postmaster_pid = server_pid, postmaster_pid

    def sample(self) -> tuple[int, int, int, float]:
        # Backends that exit meanwhile (closed connections) move into the postmaster's cutime.
        postgres = _process_cpu_ticks(self.postmaster_pid, reaped_children=True) + sum(
            _process_cpu_ticks(child) for child in _children_of(self.postmaster_pid)
        )
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # finished children: the client
        # A multi-process server's workers are its children (and their helpers).
        server = _process_cpu_ticks(self.server_pid) + sum(
            _process_cpu_ticks(child) for child in _descendants_of(self.server_pid)
        )
        return (
            server,
            postgres,
            _machine_busy_ticks(),
            usage.ru_utime + usage.ru_stime,
        )


def _run_client(port: int, requests_file: Path, seconds: float) -> dict[str, float]:
    wrk = wrk_path()
    if wrk is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(WRK_SCRIPT)
        try:
            argv = [
                wrk, f"-t{WRK_THREADS}", f"-c{CONCURRENCY}", f"-d{seconds:g}s", "--timeout", "10s",
                "-s", script.name, f"http://127.0.0.1:{port}", "--", str(requests_file),
            ]  # fmt: skip
            out = subprocess.run(  # noqa: S603 - fixed argv
                argv, capture_output=True, text=True, check=True, timeout=seconds + 60
            ).stdout
        finally:
            os.unlink(script.name)
    else:
        argv = [
            sys.executable, "-m", "bench.http_client", "127.0.0.1", str(port), str(requests_file),
            "--concurrency", str(CONCURRENCY), "--duration", str(seconds),
        ]  # fmt: skip
        out = subprocess.run(  # noqa: S603 - fixed argv
            argv, capture_output=True, text=True, check=True, timeout=seconds + 60
        ).stdout
    line = next(line for line in reversed(out.splitlines()) if line.startswith("{"))
    parsed: dict[str, float] = json.loads(line)
    return parsed


def write_requests(directory: Path, name: str, lines: Sequence[tuple[str, str]]) -> Path:
    path = directory / f"{name}.tsv"
    path.write_text("".join(f"{target}\t{token}\n" for target, token in lines))
    return path


def warm_up(port: int, requests_file: Path, seconds: float = WARMUP_SECONDS) -> None:
    _run_client(port, requests_file, seconds)


def measure(
    port: int, requests_file: Path, meter: CpuMeter, seconds: float = DURATION_SECONDS
) -> LoadResult:
    """`seconds` of closed-loop load at CONCURRENCY (after `warm_up`)."""
    before = meter.sample()
    raw = _run_client(port, requests_file, seconds)
    after = meter.sample()
    requests = int(raw["requests"]) or 1
    server, postgres, machine = (
        (after[i] - before[i]) / CLOCK_TICKS for i in range(3)
    )  # CPU seconds
    client = after[3] - before[3]
    seconds = raw["duration_us"] / 1_000_000
    other = max(0.0, machine - server - postgres - client)
    return LoadResult(
        requests=int(raw["requests"]),
        seconds=seconds,
        errors=int(raw["errors_status"] + raw["errors_socket"]),
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        server_cpu_ms=server / requests * 1000,
        postgres_cpu_ms=postgres / requests * 1000,
        client_cpu_ms=client / requests * 1000,
        other_cpu_share=other / (seconds * (os.cpu_count() or 1)),
    )
