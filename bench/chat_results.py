"""The chat-overhead benchmark's sizes and measurements, shared by the run and its report."""

from dataclasses import dataclass, field

# Sequential turns are run in rounds, one turn of each path per round in a shuffled order, so
# that other work on a shared machine slows every path alike rather than whichever ran then.
ROUNDS = 150  # turns of each main path (raw, graph, http, http SSE)
REFERENCE_EVERY = 3  # reference paths (attribution only) take part in every third round
WARMUP_ROUNDS = 5
STATEMENT_TURNS = 20  # http turns counted with pg_stat_statements, apart from the rounds
CONCURRENCY = 16
CONVERSATION_TURNS = 6
SINGLE_CONVERSATIONS = 4
PROFILE_TURNS = 50
COMPARISON_ROUNDS = 40  # raw and http, with the stub in this process


@dataclass(frozen=True)
class Sample:
    total_s: float
    first_token_s: float | None = None


@dataclass
class Phase:
    name: str
    totals_ms: list[float]
    first_token_ms: list[float]
    wall_s: float
    # CPU milliseconds per turn, by party; `other_share` is the machine's CPU used by none of ours.
    cpu_ms: dict[str, float]
    other_share: float

    @property
    def turns(self) -> int:
        return len(self.totals_ms)

    @property
    def per_second(self) -> float:
        return self.turns / self.wall_s


@dataclass
class Concurrency:
    single: Phase
    concurrent: Phase

    @property
    def ratio(self) -> float:
        return self.concurrent.per_second / (CONCURRENCY * self.single.per_second)


@dataclass
class Profile:
    """CPU of the sampled turns, ms per turn, split by where the samples fell (cpu_sampler)."""

    turns: int
    samples: int
    cpu_ms_per_turn: float  # this process while sampled (the sampler's own cost included)
    by_package: list[tuple[str, float]]  # by the package whose code asked for it, largest first
    top_functions: list[tuple[str, float]]
    cumulative: list[tuple[str, float]]  # selected functions, sub-calls included


@dataclass
class Results:
    info: dict[str, str]
    phases: dict[str, Phase] = field(default_factory=dict)
    concurrency: dict[str, Concurrency] = field(default_factory=dict)  # raw, http
    statements: list[tuple[float, str]] = field(default_factory=list)  # per turn, http phase
    profile: Profile | None = None
    in_thread: dict[str, Phase] = field(default_factory=dict)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
