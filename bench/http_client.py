"""A small closed-loop HTTP/1.1 load generator (the fallback when `wrk` is not installed).

Run as its own process, so its CPU is not the server's:
    python -m bench.http_client HOST PORT REQUESTS_FILE --concurrency 32 --duration 15
REQUESTS_FILE has one `path<TAB>bearer-token` per line; each request picks one at random.
Keep-alive connections, raw asyncio streams (uvloop when available): far lighter per request
than an HTTP client library, though still heavier than wrk. Prints one JSON object.
"""

import argparse
import asyncio
import json
import random
import time
from pathlib import Path

MAX_REQUESTS = 2_000_000  # hard bound, whatever the duration


def _requests(path: Path, host: str) -> list[bytes]:
    built = []
    for line in path.read_text().splitlines():
        target, token = line.split("\t")
        built.append(
            f"GET {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            "Accept: application/json\r\n\r\n".encode()
        )
    return built


async def _worker(
    host: str,
    port: int,
    requests: list[bytes],
    deadline: float,
    latencies: list[int],
    statuses: dict[int, int],
    rng: random.Random,
) -> int:
    errors = 0
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.monotonic() < deadline and len(latencies) < MAX_REQUESTS:
            started = time.perf_counter_ns()
            writer.write(rng.choice(requests))
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = None
            for header in head.split(b"\r\n")[1:]:
                name, _, value = header.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length is None:
                raise RuntimeError("response without Content-Length")
            await reader.readexactly(length)
            latencies.append(time.perf_counter_ns() - started)
            statuses[status] = statuses.get(status, 0) + 1
    except (ConnectionError, asyncio.IncompleteReadError):
        errors += 1
    finally:
        writer.close()
    return errors


async def run(
    host: str, port: int, requests_file: Path, concurrency: int, duration: float
) -> dict[str, object]:
    requests = _requests(requests_file, f"{host}:{port}")
    latencies: list[int] = []
    statuses: dict[int, int] = {}
    started = time.monotonic()
    deadline = started + duration
    errors = await asyncio.gather(
        *(
            _worker(host, port, requests, deadline, latencies, statuses, random.Random(n))
            for n in range(concurrency)
        )
    )
    elapsed = time.monotonic() - started
    latencies.sort()

    def pct(fraction: float) -> float:
        return latencies[min(len(latencies) - 1, int(fraction * len(latencies)))] / 1000

    return {
        "requests": len(latencies),
        "duration_us": int(elapsed * 1_000_000),
        "errors_status": sum(n for s, n in statuses.items() if s >= 400),
        "errors_socket": sum(errors),
        "p50_us": pct(0.50) if latencies else 0,
        "p90_us": pct(0.90) if latencies else 0,
        "p99_us": pct(0.99) if latencies else 0,
        "max_us": latencies[-1] / 1000 if latencies else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("requests_file", type=Path)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=15.0)
    args = parser.parse_args()
    if args.host not in {"127.0.0.1", "localhost", "::1"}:
        raise SystemExit("loopback targets only")
    load = run(args.host, args.port, args.requests_file, args.concurrency, args.duration)
    try:
        import uvloop  # optional speed-up, as uvicorn uses it

        result = uvloop.run(load)
    except ImportError:
        result = asyncio.run(load)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
