"""Study material ingestion:  .venv/bin/python -m bench.documents

`studypilot run` in a temp dir (embedded Postgres, the local embedding model, one extraction
worker process), driven over HTTP on 127.0.0.1 like a client would:

1. a generated 300-page PDF and a generated ~2 MB HTML page are uploaded; for each: time from the
   upload to `ready`, to every chunk embedded, chunks per second, and the peak resident memory
   of the API process and of the extraction worker;
2. while the PDF is processed, a closed loop of `GET /notes` (concurrency 4) measures the CRUD
   p50/p99 against the same loop on the idle server: extraction runs in a worker process and
   embedding in a thread, so the event loop should stay responsive;
3. 10,000 chunks (vectors of the running model's space, words from the study vocabulary) are
   written for one user, then `GET /search` is timed for text, meaning and hybrid queries.

Bounded: about a minute on 2 cores. Writes bench/RESULTS-documents.md.
"""

import asyncio
import io
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from fpdf import FPDF

from bench.servers import free_port
from bench.vocabulary import CONCEPTS, FILLER, SUBJECTS
from core.config import Settings
from domain.embeddings.embedder import model_id as embedding_model_id

RESULTS_PATH = Path(__file__).resolve().parent / "RESULTS-documents.md"
PDF_PAGES = 300
HTML_BYTES = 2 * 1024 * 1024
SEARCH_CHUNKS = 10_000
CRUD_CONCURRENCY = 4
CRUD_SECONDS = 3.0
EMBED_WINDOW_S = 6.0
SEARCH_QUERIES = 40


_START = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _START:5.1f}s] {message}", flush=True)


def sentence(rng: random.Random, words: int = 14) -> str:
    pool = SUBJECTS + CONCEPTS + FILLER
    return " ".join(rng.choice(pool) for _ in range(words)).capitalize() + "."


def make_pdf(rng: random.Random) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=10)
    for page in range(1, PDF_PAGES + 1):
        pdf.add_page()
        pdf.multi_cell(0, 5, f"Page {page}. " + " ".join(sentence(rng) for _ in range(18)))
    return bytes(pdf.output())


def make_html(rng: random.Random) -> bytes:
    out = io.StringIO()
    out.write("<!DOCTYPE html><html><head><title>Reader</title></head><body>")
    chapter = 0
    while out.tell() < HTML_BYTES:
        chapter += 1
        out.write(f"<h1>Chapter {chapter}</h1>")
        for section in range(1, 4):
            out.write(f"<h2>Section {chapter}.{section}</h2>")
            for _ in range(4):
                out.write(f"<p>{' '.join(sentence(rng) for _ in range(6))}</p>")
            out.write("<script>var tracking = 1;</script>")
    out.write("</body></html>")
    return out.getvalue().encode()


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the process's peak resident set so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def descendants(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for child in Path(f"/proc/{parent}/task").glob("*/children"):
            for raw in child.read_text().split():
                found.append(int(raw))
                frontier.append(int(raw))
    return found


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@dataclass
class Ingested:
    name: str
    size_bytes: int
    chunks: int
    pages: int | None
    to_ready_s: float
    # Chunks embedded in EMBED_WINDOW_S after `ready`: the embedding rate.
    embedded_in_window: int
    during_extraction: list[float]
    during_embedding: list[float]

    @property
    def extracted_chunks_per_s(self) -> float:
        return self.chunks / self.to_ready_s

    @property
    def embedded_per_s(self) -> float:
        return self.embedded_in_window / EMBED_WINDOW_S


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def crud_loop(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    seconds: float,
    until: asyncio.Event | None = None,
) -> list[float]:
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        while time.monotonic() < deadline and not (until and until.is_set()):
            start = time.perf_counter()
            response = await client.get("/notes", headers=headers)
            latencies.append((time.perf_counter() - start) * 1000)
            response.raise_for_status()

    await asyncio.gather(*(worker() for _ in range(CRUD_CONCURRENCY)))
    return latencies


async def embedded_count(db: asyncpg.Connection, document_id: str) -> tuple[int, int]:
    row = await db.fetchrow(
        "SELECT count(*) AS total, count(*) FILTER (WHERE embedding_status = 'ready') AS done "
        "FROM document_chunks WHERE document_id = $1",
        uuid.UUID(document_id),
    )
    assert row is not None
    return int(row["total"]), int(row["done"])


async def ingest(
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    headers: dict[str, str],
    name: str,
    data: bytes,
) -> Ingested:
    """Upload; CRUD loop until `ready`; CRUD loop while embedding for EMBED_WINDOW_S; then the
    document is deleted, which also ends its embedding (the next batch finds no chunks)."""
    start = time.perf_counter()
    response = await client.post("/documents", headers=headers, files={"file": (name, data)})
    response.raise_for_status()
    document_id = response.json()["id"]
    ready = asyncio.Event()
    extraction = asyncio.create_task(crud_loop(client, headers, 120, until=ready))
    while True:
        document = (await client.get(f"/documents/{document_id}", headers=headers)).json()
        if document["status"] == "failed":
            raise RuntimeError(document["failure_reason"])
        if document["status"] == "ready":
            break
        await asyncio.sleep(0.05)
    to_ready = time.perf_counter() - start
    ready.set()
    during_extraction = await extraction
    _, embedded_before = await embedded_count(db, document_id)
    during_embedding = await crud_loop(client, headers, EMBED_WINDOW_S)
    _, embedded_after = await embedded_count(db, document_id)
    log(f"{name}: ready in {to_ready:.1f} s, {embedded_after - embedded_before} embedded since")
    (await client.delete(f"/documents/{document_id}", headers=headers)).raise_for_status()
    return Ingested(
        name,
        len(data),
        document["chunk_count"],
        document["page_count"],
        to_ready,
        embedded_after - embedded_before,
        during_extraction,
        during_embedding,
    )


async def load_search_chunks(db: asyncpg.Connection, user_id: uuid.UUID, model_id: str) -> None:
    rng = random.Random(7)
    document_id = uuid.uuid4()
    await db.execute(
        "INSERT INTO documents (id, user_id, title, tags, filename, kind, content_type, "
        "size_bytes, sha256, storage_key, status, chunk_count) VALUES ($1, $2, 'Corpus', '{}', "
        "'corpus.txt', 'text', 'text/plain', 1, $3, 'none', 'ready', $4)",
        document_id,
        user_id,
        "0" * 64,
        SEARCH_CHUNKS,
    )
    rows = []
    for position in range(SEARCH_CHUNKS):
        text = " ".join(sentence(rng) for _ in range(8))
        vector = [rng.gauss(0, 1) for _ in range(384)]
        norm = sum(v * v for v in vector) ** 0.5
        rows.append(
            (
                uuid.uuid4(),
                document_id,
                user_id,
                position,
                text,
                position // 3 + 1,
                [],
                position * 1000,
                position * 1000 + len(text),
                "[" + ",".join(f"{v / norm:.5f}" for v in vector) + "]",
                model_id,
                "ready",
            )
        )
    await db.execute("SET synchronous_commit = off")
    # Inserting into the HNSW index row by row takes a minute; building it afterwards is what a
    # bulk load does (this cluster is thrown away). The index is the production one.
    index = await db.fetchval(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_document_chunks_embedding_hnsw'"
    )
    await db.execute("DROP INDEX ix_document_chunks_embedding_hnsw")
    await db.executemany(
        "INSERT INTO document_chunks (id, document_id, user_id, position, text, page, headings, "
        "char_start, char_end, embedding, embedding_model, embedding_status) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::vector, $11, $12)",
        rows,
    )
    await db.execute("SET maintenance_work_mem = '256MB'")
    await db.execute(index)
    await db.execute("ANALYZE document_chunks")


async def time_searches(
    client: httpx.AsyncClient, headers: dict[str, str], params: list[dict[str, str]]
) -> list[float]:
    latencies = []
    for query in params:
        start = time.perf_counter()
        response = await client.get("/search", headers=headers, params=query)
        latencies.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    return latencies


async def drive(base: str, data_dir: Path, server_pid: int) -> dict[str, object]:
    rng = random.Random(2026)
    pdf, html = make_pdf(rng), make_html(rng)
    state = json.loads((data_dir / "postgres.json").read_text())
    db = await asyncpg.connect(
        f"postgresql://postgres:{state['password']}@127.0.0.1:{state['port']}/studypilot"
    )
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        account = {"email": "bench@example.com", "password": "a long password", "name": "B"}
        (await client.post("/auth/register", json=account)).raise_for_status()
        credentials = {"email": account["email"], "password": account["password"]}
        login = await client.post("/auth/login", json=credentials)
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        for n in range(20):
            note = {"title": f"Note {n}", "body": sentence(rng)}
            (await client.post("/notes", headers=headers, json=note)).raise_for_status()
        # The id the running app compares vectors by (default settings, as the stack has).
        model_id = embedding_model_id(Settings())

        log("idle CRUD loop")
        idle = await crud_loop(client, headers, CRUD_SECONDS)
        log(f"ingesting a {PDF_PAGES}-page PDF ({len(pdf) / 1e6:.1f} MB) under CRUD load")
        pdf_result = await ingest(client, db, headers, "reader.pdf", pdf)
        log(f"ingesting a {len(html) / 1e6:.1f} MB HTML page under CRUD load")
        html_result = await ingest(client, db, headers, "reader.html", html)

        workers = [p for p in descendants(server_pid) if "multiprocessing" in cmdline(p)]
        api = [
            p for p in descendants(server_pid) if " serve" in cmdline(p) or "uvicorn" in cmdline(p)
        ]
        memory = {
            "api_peak_mib": max((peak_rss_mib(p) for p in api), default=peak_rss_mib(server_pid)),
            "worker_peak_mib": max((peak_rss_mib(p) for p in workers), default=0.0),
        }

        log(f"loading {SEARCH_CHUNKS:,} chunks for search")
        user_id = await db.fetchval("SELECT id FROM users WHERE email = 'bench@example.com'")
        await load_search_chunks(db, user_id, model_id)
        words = list(SUBJECTS + CONCEPTS)
        text_queries = [{"q": rng.choice(words)} for _ in range(SEARCH_QUERIES)]
        semantic_queries = [
            {"semantic": f"{rng.choice(words)} {rng.choice(words)}"} for _ in range(SEARCH_QUERIES)
        ]
        hybrid_queries = [
            {"q": rng.choice(words), "semantic": rng.choice(words)} for _ in range(SEARCH_QUERIES)
        ]
        await time_searches(client, headers, text_queries[:5])
        search = {
            "text": await time_searches(client, headers, text_queries),
            "semantic": await time_searches(client, headers, semantic_queries),
            "hybrid": await time_searches(client, headers, hybrid_queries),
        }
        chunks_for_user = await db.fetchval(
            "SELECT count(*) FROM document_chunks WHERE user_id = $1", user_id
        )
    await db.close()
    return {
        "ingested": [pdf_result, html_result],
        "idle": idle,
        "memory": memory,
        "search": search,
        "chunks_for_user": chunks_for_user,
    }


def _latency_row(label: str, values: list[float]) -> str:
    if not values:
        return f"| {label} | 0 | - | - |"
    return (
        f"| {label} | {len(values):,} | {statistics.median(values):.1f} | {pct(values, 0.99):.1f} |"
    )


def write_report(results: dict[str, object], runtime_s: float) -> None:
    ingested: list[Ingested] = results["ingested"]  # type: ignore[assignment]
    idle: list[float] = results["idle"]  # type: ignore[assignment]
    memory: dict[str, float] = results["memory"]  # type: ignore[assignment]
    search: dict[str, list[float]] = results["search"]  # type: ignore[assignment]
    lines = [
        "# Benchmark: study material ingestion",
        "",
        "Generated by `.venv/bin/python -m bench.documents` (overwrites this file).",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC (runtime {runtime_s:.0f} s), "
        f"{os.cpu_count()} cores shared by the client, the API, its extraction worker and "
        "Postgres (and whatever else runs on the machine); the local embedding model "
        "(all-MiniLM-L6-v2) on the CPU.",
        "- `ready` = extracted, chunked and every chunk stored (searchable by text). Embedding "
        f"then runs in the background; its rate is measured over {EMBED_WINDOW_S:g} s and the "
        "document deleted (which ends it), to keep the run near a minute.",
        "",
        "| Document | Size | Pages | Chunks | Upload to `ready` s | Chunks/s to `ready` "
        "| Chunks embedded/s | Time to embed all (est.) s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for item in ingested:
        estimate = item.chunks / item.embedded_per_s if item.embedded_per_s else float("nan")
        lines.append(
            f"| {item.name} | {item.size_bytes / 1e6:.2f} MB | {item.pages or '-'} | "
            f"{item.chunks:,} | {item.to_ready_s:.1f} | {item.extracted_chunks_per_s:.0f} | "
            f"{item.embedded_per_s:.0f} | {estimate:.0f} |"
        )
    lines += [
        "",
        f"Peak resident memory: API process {memory['api_peak_mib']:.0f} MiB (includes the "
        f"embedding model and torch), extraction worker {memory['worker_peak_mib']:.0f} MiB.",
        "",
        f"CRUD latency (`GET /notes`, closed loop, concurrency {CRUD_CONCURRENCY}):",
        "",
        "| Phase | Requests | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: |",
        _latency_row(f"idle ({CRUD_SECONDS:g} s)", idle),
    ]
    for item in ingested:
        lines.append(_latency_row(f"{item.name}: upload to `ready`", item.during_extraction))
        lines.append(_latency_row(f"{item.name}: embedding", item.during_embedding))
    lines += [
        "",
        f"Search over {results['chunks_for_user']:,} chunks of one user (`GET /search`, "
        f"{SEARCH_QUERIES} sequential queries per mode, over HTTP; semantic and hybrid include "
        "embedding the query):",
        "",
        "| Mode | p50 ms | p95 ms | max ms |",
        "| --- | ---: | ---: | ---: |",
    ]
    for mode, values in search.items():
        lines.append(
            f"| {mode} | {statistics.median(values):.1f} | {pct(values, 0.95):.1f} | "
            f"{max(values):.1f} |"
        )
    RESULTS_PATH.write_text("\n".join(lines) + "\n")


def main() -> None:
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="studypilot-bench-documents-"))
    os.chmod(workdir, 0o755)  # noqa: S103 - the embedded Postgres user must enter it
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        STUDYPILOT_DATA_DIR=str(workdir / "data"),
        PORT=str(port),
        STUDYPILOT_LOG_LEVEL="WARNING",
        STUDYPILOT_REGISTER_LIMIT_PER_CLIENT="1000/minute",
    )
    log_file = (workdir / "run.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "cli", "run"], env=env, stdout=log_file, stderr=log_file
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError((workdir / "run.log").read_text()[-3000:])
            time.sleep(0.3)
        # Let the embedding model finish loading (API and worker) before measuring.
        time.sleep(8)
        try:
            results = asyncio.run(drive(base, workdir / "data", server.pid))
        except Exception:
            log("the server's log ends with:\n" + (workdir / "run.log").read_text()[-4000:])
            raise
        write_report(results, time.monotonic() - started)
        log(RESULTS_PATH.read_text())
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        finally:
            log_file.close()
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
