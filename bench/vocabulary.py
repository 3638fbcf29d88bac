"""A small study vocabulary with Zipf-like word frequencies, so full-text terms range from common
(in a large share of rows) to rare, as in real study material."""

import random
from collections.abc import Sequence

SUBJECTS: tuple[str, ...] = (
    "calculus", "algebra", "statistics", "probability", "geometry", "physics", "chemistry",
    "biology", "genetics", "python", "javascript", "databases", "algorithms", "networking",
    "history", "economics", "philosophy", "spanish", "french", "writing", "astronomy",
    "psychology", "sociology", "accounting", "marketing", "anatomy", "ecology", "geology",
    "linguistics", "music", "painting", "architecture", "robotics", "cryptography",
    "compilers", "topology", "logic", "ethics", "neuroscience", "oceanography",
)  # fmt: skip

CONCEPTS: tuple[str, ...] = (
    "derivatives", "integrals", "matrices", "vectors", "recursion", "sorting", "graphs", "trees",
    "hashing", "thermodynamics", "electromagnetism", "evolution", "photosynthesis", "revolution",
    "grammar", "vocabulary", "inflation", "supply", "demand", "proofs", "limits", "series",
    "eigenvalues", "regression", "hypothesis", "sampling", "distributions", "kinematics",
    "optics", "quantum", "relativity", "bonding", "enzymes", "mitosis", "proteins", "indexes",
    "transactions", "normalization", "concurrency", "closures", "promises", "routing",
    "protocols", "empires", "treaties", "markets", "tariffs", "metaphysics", "epistemology",
    "conjugation", "pronunciation", "essays", "citations", "galaxies", "orbits", "memory",
    "perception", "cognition", "ledgers", "branding", "muscles", "ecosystems", "minerals",
    "phonetics", "harmony", "rhythm", "perspective", "structures", "sensors", "ciphers",
    "parsing", "manifolds", "syllogisms", "virtues", "neurons", "currents", "tides",
)  # fmt: skip

FORMATS: tuple[str, ...] = (
    "lecture", "tutorial", "cheatsheet", "exercises", "notes", "review", "guide", "podcast",
    "textbook", "walkthrough", "workshop", "primer", "handbook", "flashcards", "summary",
)  # fmt: skip

FILLER: tuple[str, ...] = (
    "explains", "covers", "introduces", "practice", "examples", "worked", "problems", "basics",
    "advanced", "chapter", "section", "key", "ideas", "step", "detailed", "overview", "visual",
    "intuition", "applied", "theory", "exam", "preparation", "beginner", "intermediate",
    "common", "mistakes", "tips", "reference", "solutions", "quiz", "questions", "answers",
)  # fmt: skip


def zipf_weights(count: int, exponent: float = 1.1) -> list[float]:
    return [1.0 / (rank + 1) ** exponent for rank in range(count)]


class Vocabulary:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._subject_w = zipf_weights(len(SUBJECTS))
        self._concept_w = zipf_weights(len(CONCEPTS))

    def subject(self) -> str:
        return self.rng.choices(SUBJECTS, self._subject_w)[0]

    def concept(self) -> str:
        return self.rng.choices(CONCEPTS, self._concept_w)[0]

    def words(self, pool: Sequence[str], count: int) -> list[str]:
        return [self.rng.choice(pool) for _ in range(count)]

    def title(self) -> str:
        subject, concept = self.subject(), self.concept()
        fmt = self.rng.choice(FORMATS)
        pattern = self.rng.randrange(4)
        if pattern == 0:
            return f"{subject.capitalize()} {fmt}: {concept}"
        if pattern == 1:
            return f"{concept.capitalize()} in {subject}"
        if pattern == 2:
            return f"A {fmt} on {subject} {concept}"
        return f"{subject.capitalize()} {concept} {fmt}"

    def paragraph(self, words: int) -> str:
        parts: list[str] = []
        for _ in range(words):
            roll = self.rng.random()
            if roll < 0.05:
                parts.append(self.subject())
            elif roll < 0.13:
                parts.append(self.concept())
            else:
                parts.append(self.rng.choice(FILLER))
        return " ".join(parts).capitalize() + "."

    def tags(self) -> list[str]:
        count = self.rng.randrange(0, 4)
        return sorted({self.rng.choice((self.subject, self.concept))() for _ in range(count)})


# Full-text query terms for GET /resources?q=, from very common to rare, one phrase and one miss.
QUERY_TERMS: tuple[str, ...] = (
    "calculus",
    "algebra",
    "python",
    "derivatives",
    "recursion",
    "sorting algorithms",
    "enzymes",
    "history revolution",
    "cryptography",
    "tides",
    "oceanography",
    "quantum relativity",
    "nonexistentterm",
)
