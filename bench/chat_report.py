"""Render the chat-overhead section of bench/RESULTS.md and put it in place of an earlier one."""

from pathlib import Path

from bench import chat_results as sizes
from bench.chat_results import Phase, Results, percentile
from bench.chat_stub import DELAY_SECONDS, TOOL_NAME

HEADING = "## Chat orchestration overhead (stub model, Postgres checkpointer)"
STEPS = 2  # model steps per turn: the tool call, then the answer
STEP_TARGET_MS = 5.0
FIRST_TOKEN_TARGET_MS = 5.0
LINEAR_TARGET = 0.8


# The openai client and its HTTP stack: in the raw baseline as much as in ours.
PROVIDER_CLIENT = frozenset({"openai", "httpx2", "httpcore2", "h11", "anyio", "sniffio"})


def _met(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def _p(phase: Phase, fraction: float, first_token: bool = False) -> float:
    return percentile(phase.first_token_ms if first_token else phase.totals_ms, fraction)


def _step(phase: Phase, raw: Phase, fraction: float) -> float:
    return (_p(phase, fraction) - _p(raw, fraction)) / STEPS


def _latency_table(results: Results) -> list[str]:
    raw = results.phases["raw"]
    lines = [
        "| Variant | Turns | p50 ms | p95 ms | Overhead per step, p50 ms | p95 ms "
        "| CPU ms/turn: this process | Postgres | stub | Other load |",
        "| --- |" + " ---: |" * 9,
    ]
    for name, phase in results.phases.items():
        if name == "raw":
            overhead = "baseline", "baseline"
        else:
            overhead = f"{_step(phase, raw, 0.5):.2f}", f"{_step(phase, raw, 0.95):.2f}"
        lines.append(
            f"| {name} | {phase.turns} | {_p(phase, 0.5):.1f} | {_p(phase, 0.95):.1f} | "
            f"{overhead[0]} | {overhead[1]} | {phase.cpu_ms['ours']:.1f} | "
            f"{phase.cpu_ms['postgres']:.1f} | {phase.cpu_ms['stub']:.1f} | "
            f"{phase.other_share:.0%} |"
        )
    return lines


# (label, from phase, to phase): each layer's share of the per-step overhead.
LAYERS = (
    ("LangChain's model wrapper (ChatOpenAI: bind_tools, astream)", "raw", "ChatOpenAI alone"),
    (
        "LangGraph (Pregel loop, tool node, stream modes) with the usage callback",
        "ChatOpenAI alone",
        "graph, no checkpointer",
    ),
    ("Postgres checkpointer", "graph, no checkpointer", "graph"),
    ("HTTP and the turn's bookkeeping", "graph", "http"),
    ("Total", "raw", "http"),
    (
        "Of the graph: the usage callback (a synchronous handler)",
        "graph, no usage callback",
        "graph",
    ),
)


def _layers_table(results: Results) -> list[str]:
    phases = results.phases
    lines = [
        "| Layer | Variants compared | Wall ms per step, p50 | CPU ms per step (this process) |",
        "| --- | --- | ---: | ---: |",
    ]
    for label, low, high in LAYERS:
        if low not in phases or high not in phases:
            continue
        a, b = phases[low], phases[high]
        cpu = (b.cpu_ms["ours"] - a.cpu_ms["ours"]) / STEPS
        lines.append(f"| {label} | {low} -> {high} | {_step(b, a, 0.5):.2f} | {cpu:.2f} |")
    return lines


def _first_token_table(results: Results) -> list[str]:
    raw = results.phases["raw"]
    lines = [
        "| Variant | p50 ms | p95 ms | Added to first token, p50 ms | p95 ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name in ("raw", "graph", "http, SSE"):
        phase = results.phases[name]
        added = (
            ("baseline", "baseline")
            if name == "raw"
            else tuple(f"{_p(phase, f, True) - _p(raw, f, True):.2f}" for f in (0.5, 0.95))
        )
        lines.append(
            f"| {name} | {_p(phase, 0.5, True):.1f} | {_p(phase, 0.95, True):.1f} | "
            f"{added[0]} | {added[1]} |"
        )
    return lines


def _core_share(phase: Phase) -> float:
    return phase.cpu_ms["ours"] * phase.turns / 1000 / phase.wall_s


def _concurrency_lines(results: Results) -> list[str]:
    lines = [
        "| Client | Load | Turns | Seconds | Turns/s | x linear | p50 ms | p95 ms "
        "| CPU ms/turn: this process | Postgres | This process's CPU, share of one core "
        "| Other load |",
        "| --- | --- |" + " ---: |" * 10,
    ]
    for client, c in results.concurrency.items():
        for phase in (c.single, c.concurrent):
            ratio = f"{c.ratio:.2f}" if phase is c.concurrent else "1"
            lines.append(
                f"| {client} | {phase.name} | {phase.turns} | {phase.wall_s:.1f} | "
                f"{phase.per_second:.1f} | {ratio} | {_p(phase, 0.5):.1f} | "
                f"{_p(phase, 0.95):.1f} | {phase.cpu_ms['ours']:.1f} | "
                f"{phase.cpu_ms['postgres']:.1f} | {_core_share(phase):.0%} | "
                f"{phase.other_share:.0%} |"
            )
    return lines


def _profile_lines(results: Results) -> list[str]:
    profile = results.profile
    assert profile is not None
    http = results.phases["http"]
    interval = profile.cpu_ms_per_turn * profile.turns / max(1, profile.samples)
    lines = [
        f"Profile: {profile.turns} more sequential `http` turns under `bench/cpu_sampler.py`, a "
        "sampling profiler (SIGPROF on this process's CPU time, the Python stack recorded: "
        "py-spy's method, in process; py-spy is not installed, and cProfile slowed this "
        "call-heavy code down 2-7x, unevenly, which skews its shares). "
        f"{profile.samples:,} samples, one per {interval:.1f} ms of CPU (the kernel's tick); "
        f"{profile.cpu_ms_per_turn:.1f} ms of CPU per turn while "
        f"sampled ({http.cpu_ms['ours']:.1f} ms unsampled in the `http` phase). Each sample "
        "goes to the innermost frame outside the standard library and run-time generated code "
        "(those, and C code, work for their caller; `uvloop` is the event loop's own C code, "
        "between "
        "callbacks). The provider client (`openai`, `httpx2`, `httpcore2`, `h11`, "
        "`anyio`) is also in the raw baseline; the rest is the overhead:",
        "",
        "| Package | CPU ms/turn | Share |",
        "| --- | ---: | ---: |",
    ]
    lines += [
        f"| {name} | {ms:.2f} | {ms / profile.cpu_ms_per_turn:.0%} |"
        for name, ms in profile.by_package
    ]
    lines += ["", "Functions (innermost outside the standard library), CPU ms per turn:", ""]
    lines += [f"- {ms:.2f} `{name}`" for name, ms in profile.top_functions]
    lines += [
        "",
        "Selected functions, sub-calls included, CPU ms per turn (a function counts while it "
        "is on the stack; work it hands to another asyncio task is not included):",
        "",
    ]
    lines += [f"- {ms:.2f} `{name}`" for name, ms in profile.cumulative]
    lines += ["", "SQL statements per `http` turn (pg_stat_statements), most frequent first:", ""]
    lines += [f"- {per_turn:.1f} x `{query[:140]}`" for per_turn, query in results.statements[:16]]
    total_statements = sum(per_turn for per_turn, _ in results.statements)
    lines += ["", f"Total: {total_statements:.1f} statements per turn.", ""]
    return lines


def _verdicts(results: Results) -> list[str]:
    phases, raw = results.phases, results.phases["raw"]
    http, graph, sse = phases["http"], phases["graph"], phases["http, SSE"]
    c, c_raw = results.concurrency["http"], results.concurrency.get("raw")
    step_http, step_graph = _step(http, raw, 0.5), _step(graph, raw, 0.5)
    added = _p(sse, 0.5, True) - _p(raw, 0.5, True)
    added_graph = _p(graph, 0.5, True) - _p(raw, 0.5, True)
    packages = results.profile.by_package if results.profile else []
    top = ", ".join(f"{name} {ms:.1f}" for name, ms in packages if name not in PROVIDER_CLIENT)
    split = "; ".join(
        f"{label.split(' (')[0]} {_step(phases[high], phases[low], 0.5):.1f} ms"
        for label, low, high in LAYERS[:4]
        if low in phases and high in phases
    )
    callback = (
        _step(graph, phases["graph, no usage callback"], 0.5)
        if "graph, no usage callback" in phases
        else None
    )
    callback_text = (
        ""
        if callback is None
        else f". Of the graph's share, {callback:.1f} ms per step is the token-usage callback "
        "`ChatTurn` passes (run inline: a synchronous handler otherwise sends every callback "
        "event through LangChain's thread pool, which measured about 4 ms per step)"
    )
    ceiling = 1000 / c.concurrent.cpu_ms["ours"]
    wrapper = _step(phases["ChatOpenAI alone"], raw, 0.5) if "ChatOpenAI alone" in phases else 0.0
    wanted = LINEAR_TARGET * sizes.CONCURRENCY * c.single.per_second
    raw_text = (
        ""
        if c_raw is None
        else f"; the raw client alone reaches {c_raw.ratio:.2f} x linear on the same stub, "
        f"at {c_raw.concurrent.cpu_ms['ours']:.1f} ms of CPU per turn"
    )
    rows = [
        (
            f"Overhead per model step, p50 <= {STEP_TARGET_MS:g} ms (end to end: `http` vs raw)",
            f"{step_http:.2f} ms (graph alone {step_graph:.2f} ms)",
            step_http <= STEP_TARGET_MS,
            f"per step, p50: {split} (table above){callback_text}. ChatOpenAI alone already "
            f"takes {wrapper:.1f} of the {STEP_TARGET_MS:g} ms. It is CPU in this process, "
            "not waiting: "
            f"{http.cpu_ms['ours']:.1f} ms of CPU per turn against {raw.cpu_ms['ours']:.1f} ms "
            f"for the raw client ({(http.cpu_ms['ours'] - raw.cpu_ms['ours']) / STEPS:.1f} ms "
            f"more per step). Profiled CPU per turn outside the provider client (which raw "
            f"runs too), ms: {top}",
        ),
        (
            f"Added to first token, p50 <= {FIRST_TOKEN_TARGET_MS:g} ms (`http, SSE` vs raw)",
            f"{added:.2f} ms (graph alone {added_graph:.2f} ms)",
            added <= FIRST_TOKEN_TARGET_MS,
            "the answer's first token comes in the second step, after the first step, the tool "
            f"and their checkpoints: the graph alone adds {added_graph:.1f} ms by then; the HTTP "
            "path adds the request's work before the graph starts (auth, rate limit, "
            f"conversation claim and its commit) for {added - added_graph:.1f} ms more",
        ),
        (
            f"{c.concurrent.name}, >= {LINEAR_TARGET:g} x linear",
            f"{c.ratio:.2f} x ({c.concurrent.per_second:.1f} turns/s against "
            f"{sizes.CONCURRENCY} x {c.single.per_second:.2f})",
            c.ratio >= LINEAR_TARGET,
            f"the app's one process (one event loop, so one core at most) was busy "
            f"{_core_share(c.concurrent):.0%} of a core at {c.concurrent.cpu_ms['ours']:.1f} ms "
            f"of CPU per turn, so it cannot pass about {ceiling:.0f} turns/s whatever the "
            "concurrency; turns queue for the CPU and their latency grows instead. "
            f"{LINEAR_TARGET:g} x linear is {wanted:.0f} turns/s, at most "
            f"{1000 / wanted:.1f} ms of CPU per turn on one core{raw_text}",
        ),
    ]
    lines = ["| Target | Measured | Verdict |", "| --- | --- | --- |"]
    for target, measured, ok, reason in rows:
        lines.append(f"| {target} | {measured} | {_met(ok)}" + ("" if ok else f": {reason}") + " |")
    return lines


def _in_thread_lines(results: Results) -> list[str]:
    if not results.in_thread:
        return []
    lines = [
        f"Stub placement: {sizes.COMPARISON_ROUNDS} more rounds of `raw` and `http` with the "
        "stub in a thread of the measuring process (sharing its GIL and its core), against the "
        "numbers above (stub in its own process, which every other number here uses):",
        "",
        "| Variant | Turns | p50 ms, own process | p50 ms, in thread | Overhead per step p50, own "
        "process | in thread |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    raw_out, raw_in = results.phases["raw"], results.in_thread["raw"]
    for name in ("raw", "http"):
        out, inside = results.phases[name], results.in_thread[name]
        steps = (
            ("baseline", "baseline")
            if name == "raw"
            else (f"{_step(out, raw_out, 0.5):.2f}", f"{_step(inside, raw_in, 0.5):.2f}")
        )
        lines.append(
            f"| {name} | {inside.turns} | {_p(out, 0.5):.1f} | {_p(inside, 0.5):.1f} | "
            f"{steps[0]} | {steps[1]} |"
        )
    shift = _step(results.in_thread["http"], raw_in, 0.5) - _step(
        results.phases["http"], raw_out, 0.5
    )
    lines += [
        "",
        f"With the stub in a thread, the measured overhead per step moves by {shift:+.1f} ms in "
        "this run. Either way the stub shares the machine's two cores; every other number here "
        "uses the separate process because it keeps the stub's CPU and GIL out of the measured "
        "process, so that process's CPU figures are ours alone.",
    ]
    return [*lines, ""]


def render(command: str, results: Results) -> str:
    info = results.info
    raw = results.phases["raw"]
    stub_ms = _p(raw, 0.5) / STEPS - DELAY_SECONDS * 1000
    lines = [
        HEADING,
        "",
        "A separate benchmark (`bench.run` does not run it, and rewrites this file without this "
        "section); it replaces its own section on each run:",
        "",
        "```sh",
        command,
        "```",
        "",
        f"- Date: {info['date']} (total runtime {info.get('runtime', '?')})",
        f"- Machine: {info['cpu']} (2 cores shared by this process, the stub and Postgres), "
        f"{info['memory']} RAM; {info['os']}; Python {info['python']}; event loop uvloop",
        f"- Database: embedded PostgreSQL {info.get('postgres', '?')}, a fresh cluster "
        f"(`bench/postgres.py`); durability {info.get('durability', '?')}; CPU busy (anything) "
        f"just before the run: {info.get('busy_before', '?')}",
        f"- Stub model: `bench/chat_stub.py` (`tests/support/scripted_openai.py` served in a "
        f"process of its own), {DELAY_SECONDS * 1000:g} ms per answer: a `{TOOL_NAME}` tool "
        "call, then, once the tool result is in the request, a 17-word answer; streamed when "
        f"asked. A raw step takes {stub_ms:.1f} ms more than the 50 ms sleep (raw p50 / 2 - "
        "50): the stub's HTTP and JSON work and the client's (the raw openai client alone uses "
        f"{raw.cpu_ms['ours'] / STEPS:.1f} ms of CPU per step: request transformation, one "
        "pydantic object per streamed chunk).",
        f"- The tool: `{TOOL_NAME}` for a user with no goals (one small SELECT in the turn's "
        "session, in a savepoint). Settings: production (`env=production`, log level WARNING, "
        "default pool sizes), AI rate limits raised so they never refuse.",
        "",
        f"Method: sequential turns in {sizes.ROUNDS} rounds after {sizes.WARMUP_ROUNDS} "
        "warm-up rounds, all in one process; each round runs one turn of every variant below in "
        f"a shuffled order (the reference variants in one round out of {sizes.REFERENCE_EVERY}), "
        "so that other work on a shared machine slows every "
        "variant alike instead of whichever ran at the time:",
        "",
        "- **raw** (the baseline): `openai.AsyncOpenAI` sends the same two requests the graph "
        "sends (same system prompt, the 8 chat tools, the tool call and a `[]` tool result), "
        "streamed with usage and read to the end as ChatOpenAI does (the chat graph always "
        "streams from the provider: its `messages` stream mode makes ChatOpenAI stream, for "
        "the JSON answer too); no graph, no database. **ChatOpenAI alone** (reference): the "
        "app's ChatOpenAI (`bind_tools(...).astream`) for the same two steps, no graph, no "
        "callbacks.",
        "- **graph**: the compiled chat graph with the Postgres checkpointer, `astream` with "
        "the stream modes, usage callback and run-time context `ChatTurn` uses; a new thread "
        "per turn; the tool's session is rolled back after the turn. "
        "**graph, no checkpointer** (reference): the same graph compiled without one; **graph, "
        "no usage callback** (reference): without the token-counting callback handler "
        "`ChatTurn` passes. Reference variants only attribute the overhead; they are not "
        "production configurations.",
        "- **http**: `POST /api/v1/ai/chat` (JSON answer) through `create_app` and "
        "`httpx.ASGITransport`: middleware, bearer-token auth of a committed user, AI rate "
        "limit and token budget, conversation claim, the graph, the `agent_runs` row and the "
        "commit; a new conversation per turn. **http, SSE**: the same with "
        "`Accept: text/event-stream`, driven as raw ASGI (ASGITransport buffers a response "
        "until it ends) to time the first `token` event. The HTTP server itself (uvicorn "
        "parsing, sockets) is not in either; the JSON variant includes the httpx test "
        "client's own work.",
        "",
        "Overhead per step = (variant - raw) / 2 on the same percentile (a difference of "
        "percentiles, not a percentile of differences). CPU per turn: this process from "
        "`time.process_time()` around each turn, Postgres and the stub from /proc (10 ms "
        "ticks, averaged over the turns); other load = the machine's busy CPU during the "
        "variant's turns used by none of these, as a share of both cores.",
        "",
        *_latency_table(results),
        "",
        "Time to first token: from the start of the turn to the first content chunk of the "
        "second (answer) step for raw; to the first `token` event for ours.",
        "",
        *_first_token_table(results),
        "",
        "Where the overhead per step goes: differences between variants (p50 wall time, and "
        "mean CPU of this process), per model step. Differences of p50s are approximate (the "
        "reference variants have fewer turns); the CPU column is steadier.",
        "",
        *_layers_table(results),
        "",
        f"Concurrency: conversations of {sizes.CONVERSATION_TURNS} turns over the `http` path "
        "(the first starts it, the others continue it), one user each; "
        f"{sizes.SINGLE_CONVERSATIONS} conversations one after the other, then "
        f"{sizes.CONCURRENCY} at once, after a warm-up round at full concurrency; the raw "
        "client the same way (one shared `AsyncOpenAI`), for reference. Linear = "
        f"{sizes.CONCURRENCY} x the one-at-a-time turns/s. Statement counts below come from "
        f"{sizes.STATEMENT_TURNS} further `http` turns.",
        "",
        *_concurrency_lines(results),
        "",
        "Verdicts:",
        "",
        *_verdicts(results),
        "",
        *_profile_lines(results),
        *_in_thread_lines(results),
    ]
    return "\n".join(lines)


def read_section(path: Path) -> str | None:
    """This benchmark's section of the file as it stands, if there is one."""
    lines = path.read_text().splitlines() if path.exists() else []
    if HEADING not in lines:
        return None
    start = lines.index(HEADING)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[start:end])


def write_section(path: Path, section: str) -> None:
    """Replace this benchmark's section of the file (up to the next `## `), or append it."""
    text = path.read_text() if path.exists() else ""
    lines = text.splitlines()
    if HEADING in lines:
        start = lines.index(HEADING)
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        lines = lines[:start] + section.rstrip("\n").splitlines() + [""] + lines[end:]
    else:
        lines = [*lines, "", *section.rstrip("\n").splitlines(), ""] if lines else [section]
    path.write_text("\n".join(lines).rstrip("\n") + "\n")
