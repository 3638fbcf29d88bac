"""Synthetic but clustered 384-d "embeddings", in pure Python (no numpy in the project).

Real text embeddings are far from uniform: near-duplicates sit at cosine ~0.9, texts on one
subject at ~0.7, one broad topic at ~0.4, unrelated texts at ~0. Uniform random vectors have no
such structure and make HNSW look worse than it is, so each vector here is the L2-normalised sum
of a topic centroid, a subtopic centroid, a micro-cluster centroid and per-vector noise:

    50 topics x 10 subtopics x 20 micro-clusters (10,000 micro-clusters, ~10 vectors each)
    component norms 1.0 / 0.8 / 0.6 / noise 0.5
    => cosine ~0.89 in one micro-cluster, ~0.73 in one subtopic, ~0.44 in one topic, ~0 across.

Each user studies a few topics and their resources come from those; a filtered query comes from
one of the querying user's topics (people search for what they study).
"""

import math
import random
import struct
from array import array
from dataclasses import dataclass

DIMENSIONS = 384
TOPICS = 50
SUBTOPICS_PER_TOPIC = 10
MICRO_PER_SUBTOPIC = 20
TOPIC_NORM, SUBTOPIC_NORM, MICRO_NORM, NOISE_NORM = 1.0, 0.8, 0.6, 0.5
TOPICS_PER_USER = (3, 5)
# Uniform(-0.5, 0.5) has variance 1/12: this scale gives the noise vector an expected norm of
# NOISE_NORM. Uniform noise is ~6x cheaper than random.gauss here, and in 384 dimensions its
# projections are Gaussian for all practical purposes.
_NOISE_SCALE = NOISE_NORM * math.sqrt(12 / DIMENSIONS)

Vector = list[float]


def _random_unit(rng: random.Random, norm: float) -> Vector:
    values = [rng.gauss(0.0, 1.0) for _ in range(DIMENSIONS)]
    scale = norm / math.hypot(*values)
    return [v * scale for v in values]


def _add(a: Vector, b: Vector) -> Vector:
    return [x + y for x, y in zip(a, b, strict=True)]


@dataclass(frozen=True)
class Micro:
    topic: int
    base: Vector  # topic + subtopic + micro centroid, not normalised


class ClusteredSpace:
    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.by_topic: list[list[Micro]] = []
        for topic in range(TOPICS):
            topic_vector = _random_unit(self.rng, TOPIC_NORM)
            micros: list[Micro] = []
            for _ in range(SUBTOPICS_PER_TOPIC):
                subtopic = _add(topic_vector, _random_unit(self.rng, SUBTOPIC_NORM))
                micros.extend(
                    Micro(topic, _add(subtopic, _random_unit(self.rng, MICRO_NORM)))
                    for _ in range(MICRO_PER_SUBTOPIC)
                )
            self.by_topic.append(micros)

    def user_topics(self) -> list[int]:
        return self.rng.sample(range(TOPICS), self.rng.randint(*TOPICS_PER_USER))

    def sample(self, topics: list[int] | None = None) -> Vector:
        """A unit vector near a random micro-cluster of one of `topics` (any topic if None)."""
        topic = self.rng.choice(topics) if topics else self.rng.randrange(TOPICS)
        base = self.rng.choice(self.by_topic[topic]).base
        r = self.rng.random
        values = [b + _NOISE_SCALE * (r() - 0.5) for b in base]
        inverse = 1.0 / math.hypot(*values)
        return [v * inverse for v in values]


def to_pgvector_binary(vector: Vector) -> bytes:
    """pgvector's binary wire format: dimensions (u16), unused (u16), big-endian float4s."""
    values = array("f", vector)
    values.byteswap()  # to big-endian (every machine this runs on is little-endian)
    return struct.pack(">HH", len(values), 0) + values.tobytes()
