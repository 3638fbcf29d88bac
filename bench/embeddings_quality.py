"""Quality and speed of the local embedder, against the hashing baseline, on study-domain text.

    .venv/bin/python -m bench.embeddings_quality [--threads N] [--repeats N]

Quality, on a labelled set written for this (below), for all-MiniLM-L6-v2 and for the
deterministic word-hashing embedder the unit tests use (a bag of words: the floor to beat):
- mean cosine similarity of the similar pairs (paraphrases with few shared words) and of the
  unrelated ones (a third of which share a word with a similar pair: "cell", "table", "season");
- AUC: the share of (similar, unrelated) pairs ranked the right way round;
- recall@1, recall@3 and MRR of 20 student questions against 20 notes, each with one answer,
  the notes made into text exactly as the pipeline does (domain.embeddings.text).
Speed of the local model on this machine's CPU: import and load time, texts/s at batch 1 and 32
for short sentences and note-length texts, single-query latency (sync and through the async
path the app uses). Prints Markdown and writes bench/.results/embeddings_quality.json.
"""

import argparse
import asyncio
import itertools
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from langchain_core.embeddings import Embeddings

from domain.embeddings.embedder import LocalEmbedder
from domain.embeddings.text import note_text
from domain.notes.models import Note
from tests.fixtures.embeddings import HashingEmbedder

RESULTS = Path(__file__).parent / ".results" / "embeddings_quality.json"

# Same meaning, mostly different words.
SIMILAR = [
    ("What is the derivative of sin(x)?", "Differentiating sine gives cosine."),
    (
        "How does natural selection drive evolution?",
        "Organisms better suited to their surroundings leave more offspring, so species change.",
    ),
    ("Summarise the causes of World War I.", "Why did the Great War break out in 1914?"),
    ("The mitochondria is the powerhouse of the cell.", "ATP is mostly produced by mitochondria."),
    (
        "Tips for memorising irregular Spanish verbs",
        "How to remember conjugations that break the rules in Spanish",
    ),
    (
        "Big-O notation describes how an algorithm's running time grows.",
        "Asymptotic complexity measures how runtime scales with input size.",
    ),
    (
        "I can't focus when I study at home.",
        "My concentration is terrible while revising in my room.",
    ),
    (
        "Photosynthesis converts light energy into chemical energy.",
        "Plants turn sunlight into glucose.",
    ),
    ("What is the Pythagorean theorem?", "In a right triangle, a² + b² = c²."),
    (
        "Supply and demand determine market prices.",
        "Prices settle where what buyers want meets what sellers offer.",
    ),
    (
        "How do vaccines train the immune system?",
        "Immunisation exposes the body to a harmless antigen so it builds antibodies.",
    ),
    (
        "Explain recursion in programming.",
        "A function that calls itself to solve smaller instances of a problem.",
    ),
    (
        "Make a revision timetable for my finals.",
        "Plan a study schedule for the end-of-year exams.",
    ),
    (
        "Shakespeare's Hamlet is a tragedy about revenge.",
        "The Prince of Denmark seeks to avenge his father's murder.",
    ),
    ("What causes the seasons on Earth?", "The tilt of our planet's axis makes summer and winter."),
    ("DNA replication is semi-conservative.", "Each new double helix keeps one original strand."),
    (
        "How do I balance a chemical equation?",
        "Make the number of atoms of each element equal on both sides of the reaction.",
    ),
    (
        "Active recall beats rereading notes.",
        "Testing yourself teaches more than going over the material again.",
    ),
    ("The French Revolution started in 1789.", "In 1789 the people of Paris stormed the Bastille."),
    (
        "What is an eigenvector?",
        "A vector whose direction a linear transformation leaves unchanged, only scaled.",
    ),
    (
        "Newton's first law: objects keep moving unless a force acts.",
        "Inertia means a body stays at rest or in uniform motion without a net force.",
    ),
    (
        "How do I cite sources in APA style?",
        "Referencing format for psychology papers: author, year.",
    ),
    (
        "Spaced repetition improves long-term retention.",
        "Reviewing flashcards at growing intervals helps you remember for longer.",
    ),
    ("Integrate x with respect to x.", "The antiderivative of x is x²/2 plus a constant."),
]

# Different meaning. The first eight share a word with a similar pair's sentence (homonyms).
UNRELATED = [
    ("The mitochondria is the powerhouse of the cell.", "Merge two cells in a spreadsheet."),
    ("Explain recursion in programming.", "The TV programming schedule for tonight."),
    ("What causes the seasons on Earth?", "Season the soup with salt and pepper."),
    ("How do I balance a chemical equation?", "Balance exercises for skiing."),
    ("Newton's first law: objects keep moving unless a force acts.", "Law school admission tips."),
    ("Make a revision timetable for my finals.", "Train timetable from London to Paris."),
    ("Shakespeare's Hamlet is a tragedy about revenge.", "A hamlet is a small village."),
    ("What is an eigenvector?", "What is a disease vector such as the mosquito?"),
    ("What is the derivative of sin(x)?", "The French Revolution started in 1789."),
    ("How does natural selection drive evolution?", "How do I cite sources in APA style?"),
    ("Summarise the causes of World War I.", "Plants turn sunlight into glucose."),
    ("Tips for memorising irregular Spanish verbs", "In a right triangle, a² + b² = c²."),
    ("Big-O notation describes how an algorithm's running time grows.", "Hamlet's uncle."),
    ("I can't focus when I study at home.", "DNA replication is semi-conservative."),
    ("Photosynthesis converts light energy into chemical energy.", "Explain recursion."),
    ("What is the Pythagorean theorem?", "How do vaccines train the immune system?"),
    ("Supply and demand determine market prices.", "Each new double helix keeps one strand."),
    ("How do vaccines train the immune system?", "Integrate x with respect to x."),
    ("The French Revolution started in 1789.", "Big-O notation of binary search."),
    ("DNA replication is semi-conservative.", "Prices settle where buyers meet sellers."),
    ("Active recall beats rereading notes.", "The tilt of the axis makes summer and winter."),
    ("How do I cite sources in APA style?", "ATP is mostly produced by mitochondria."),
    ("Spaced repetition improves long-term retention.", "Newton's first law of motion."),
    ("Integrate x with respect to x.", "My concentration is terrible at home."),
]
HARD_NEGATIVES = 8

# (title, body) notes, and a question each, worded as a student would ask it.
NOTES = [
    (
        "Krebs cycle",
        "Pyruvate is oxidised to acetyl-CoA, which enters the citric acid cycle in the "
        "mitochondrial matrix, releasing CO2 and producing NADH and FADH2.",
    ),
    (
        "Supply and demand",
        "The equilibrium price is where the quantity supplied equals the quantity demanded; a "
        "shortage pushes prices up, a surplus pushes them down.",
    ),
    (
        "Quicksort",
        "Pick a pivot, partition the array into smaller and larger elements, recurse on both "
        "halves. Average O(n log n), worst case O(n^2) with bad pivots.",
    ),
    (
        "The causes of World War I",
        "Militarism, alliances, imperialism and nationalism; the assassination of Archduke Franz "
        "Ferdinand in Sarajevo in 1914 triggered the war.",
    ),
    (
        "Chain rule",
        "The derivative of f(g(x)) is f'(g(x)) times g'(x): differentiate the outer function, "
        "keep the inner one, multiply by the inner derivative.",
    ),
    (
        "Spanish subjunctive",
        "Used after expressions of wish, doubt and emotion: quiero que vengas, dudo que sea "
        "verdad. Formed from the yo form of the present tense.",
    ),
    (
        "Ohm's law",
        "Voltage equals current times resistance, V = IR. Doubling the resistance at a fixed "
        "voltage halves the current.",
    ),
    (
        "Pomodoro technique",
        "Work for 25 minutes, then take a 5 minute break; after four rounds take a longer break. "
        "It helps with procrastination and keeps focus fresh.",
    ),
    (
        "Mitosis",
        "Prophase, metaphase, anaphase and telophase: the chromosomes condense, line up, are "
        "pulled apart and two identical daughter nuclei form.",
    ),
    (
        "Romeo and Juliet themes",
        "Young love against family feuds, fate and haste; the lovers' deaths finally reconcile "
        "the Montagues and the Capulets.",
    ),
    (
        "SQL joins",
        "An inner join keeps rows matching in both tables; a left join keeps every row of the "
        "left table, with nulls where the right one has no match.",
    ),
    (
        "Plate tectonics",
        "The lithosphere is split into plates moving over the mantle; at their boundaries they "
        "cause earthquakes, volcanoes and mountain ranges.",
    ),
    (
        "Standard deviation",
        "The square root of the variance: how far values typically lie from the mean. A small "
        "value means the data cluster tightly.",
    ),
    (
        "Cold War",
        "The rivalry between the United States and the Soviet Union from 1947 to 1991: arms "
        "race, space race and proxy wars, but no direct war.",
    ),
    (
        "Acids and bases",
        "Acids donate protons, bases accept them; pH below 7 is acidic, above 7 basic. "
        "Neutralisation gives a salt and water.",
    ),
    (
        "Opportunity cost",
        "The value of the best alternative given up when making a choice, such as the wages lost "
        "while studying full time.",
    ),
    (
        "Photosynthesis",
        "In the chloroplasts, light energy splits water and fixes carbon dioxide into glucose, "
        "releasing oxygen.",
    ),
    (
        "Binary search",
        "In a sorted list compare the target with the middle element and discard half each "
        "step: O(log n) comparisons.",
    ),
    (
        "Writing a thesis statement",
        "One or two sentences at the end of the introduction stating the essay's arguable claim "
        "and how the body paragraphs will support it.",
    ),
    (
        "Kinetic energy",
        "A moving body of mass m and speed v carries energy one half m v squared; doubling the "
        "speed quadruples it.",
    ),
]
QUESTIONS = [
    "what happens to pyruvate inside the mitochondria?",
    "why do prices go up when something is scarce?",
    "which sorting algorithm splits around a pivot?",
    "what started the first world war?",
    "how do I differentiate a function inside another function?",
    "when do I use 'que' + special verb forms in Spanish?",
    "relationship between volts, amps and resistance",
    "a study method with 25-minute work blocks",
    "stages of cell division",
    "what is Shakespeare's play about the star-crossed lovers about?",
    "how do I combine rows from two database tables?",
    "why do earthquakes happen where they do?",
    "how spread out is my data from the average?",
    "USA vs USSR tension after 1945",
    "what does pH measure?",
    "what do I give up by choosing one option over another?",
    "how do plants make their food?",
    "fast lookup in an ordered array",
    "how do I state the main argument of my essay?",
    "energy of a moving object formula",
]


@dataclass
class Quality:
    embedder: str
    similar_mean: float
    unrelated_mean: float
    hard_negative_mean: float
    auc: float
    auc_hard_negatives: float
    recall_at_1: float
    recall_at_3: float
    mrr: float


@dataclass
class Speed:
    torch_threads: int
    import_seconds: float
    load_seconds: float
    short_texts_per_second_batch_1: float
    short_texts_per_second_batch_32: float
    note_texts_per_second_batch_1: float
    note_texts_per_second_batch_32: float
    note_text_word_pieces_mean: float
    query_p50_ms: float
    query_p95_ms: float
    async_query_p50_ms: float


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    # Both embedders return unit vectors.
    return sum(x * y for x, y in zip(a, b, strict=True))


def pair_similarities(embedder: Embeddings, pairs: list[tuple[str, str]]) -> list[float]:
    vectors = embedder.embed_documents([text for pair in pairs for text in pair])
    return [cosine(vectors[i], vectors[i + 1]) for i in range(0, len(vectors), 2)]


def auc(positives: list[float], negatives: list[float]) -> float:
    wins = [
        1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(positives, negatives)
    ]
    return sum(wins) / len(wins)


def measure_quality(name: str, embedder: Embeddings) -> Quality:
    similar = pair_similarities(embedder, SIMILAR)
    unrelated = pair_similarities(embedder, UNRELATED)
    hard = unrelated[:HARD_NEGATIVES]
    documents = embedder.embed_documents(
        [note_text(Note(title=title, body=body, tags=[])) for title, body in NOTES]
    )
    ranks = []
    for i, question in enumerate(embedder.embed_documents(QUESTIONS)):
        scores = [cosine(question, document) for document in documents]
        ranks.append(1 + sum(score > scores[i] for score in scores))
    return Quality(
        embedder=name,
        similar_mean=statistics.fmean(similar),
        unrelated_mean=statistics.fmean(unrelated),
        hard_negative_mean=statistics.fmean(hard),
        auc=auc(similar, unrelated),
        auc_hard_negatives=auc(similar, hard),
        recall_at_1=sum(rank == 1 for rank in ranks) / len(ranks),
        recall_at_3=sum(rank <= 3 for rank in ranks) / len(ranks),
        mrr=statistics.fmean(1 / rank for rank in ranks),
    )


def texts_per_second(
    embed: Callable[[list[str]], object], texts: list[str], batch: int, rounds: int
) -> float:
    """The median of several rounds: the CPU may be shared, and one busy moment is not the rate.

    An untimed round goes first: oneDNN compiles kernels per input shape on first sight, a
    one-off cost a running server has long paid for common lengths.
    """
    rates = []
    for round_ in range(rounds + 1):
        start = time.perf_counter()
        for i in range(0, len(texts), batch):
            embed(texts[i : i + batch])
        if round_:
            rates.append(len(texts) / (time.perf_counter() - start))
    return statistics.median(rates)


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[round(q * 100) - 1]


def measure_speed(repeats: int, threads: int | None) -> tuple[Speed, LocalEmbedder]:
    # As LocalEmbedder.load sets them; they must precede the imports to take effect.
    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS"):
        os.environ.setdefault(variable, "1")
    start = time.perf_counter()
    import sentence_transformers  # noqa: F401 - timed on its own: it imports torch, transformers
    import torch

    imported = time.perf_counter()
    embedder = LocalEmbedder()
    embedder.load()
    loaded = time.perf_counter()
    if threads:
        torch.set_num_threads(threads)  # after load(), which picks the app's default

    short = [text for pair in SIMILAR + UNRELATED for text in pair]
    # Note-length texts: five notes' bodies each (~150 words), near the model's 256-piece window.
    bodies = [body for _, body in NOTES]
    notes = [" ".join((bodies * 2)[i : i + 5]) for i in range(len(bodies))] * 2
    embedder.embed_documents(short[:8])  # first call pays one-off allocations
    model = embedder._model
    assert model is not None
    word_pieces = [len(model.model.tokenizer(text)["input_ids"]) for text in notes]

    for question in QUESTIONS:  # shapes seen once, as above
        embedder.embed_query(question)
    latencies: list[float] = []
    async_latencies: list[float] = []

    async def measure_latencies() -> None:
        # Interleaved, so a busy spell on a shared CPU hits both paths alike.
        for question in QUESTIONS * repeats:
            begin = time.perf_counter()
            embedder.embed_query(question)
            latencies.append((time.perf_counter() - begin) * 1000)
            begin = time.perf_counter()
            await embedder.aembed_query(question)
            async_latencies.append((time.perf_counter() - begin) * 1000)

    asyncio.run(measure_latencies())
    embed = embedder.embed_documents
    speed = Speed(
        torch_threads=torch.get_num_threads(),
        import_seconds=imported - start,
        load_seconds=loaded - imported,
        short_texts_per_second_batch_1=texts_per_second(embed, short, 1, repeats),
        short_texts_per_second_batch_32=texts_per_second(embed, short, 32, repeats),
        note_texts_per_second_batch_1=texts_per_second(embed, notes, 1, repeats),
        note_texts_per_second_batch_32=texts_per_second(embed, notes, 32, repeats),
        note_text_word_pieces_mean=statistics.fmean(word_pieces),
        query_p50_ms=statistics.median(latencies),
        query_p95_ms=percentile(latencies, 0.95),
        async_query_p50_ms=statistics.median(async_latencies),
    )
    return speed, embedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per speed figure")
    parser.add_argument(
        "--threads", type=int, help="torch intra-op threads (default: what the app uses)"
    )
    args = parser.parse_args()

    speed, local = measure_speed(args.repeats, args.threads)
    qualities = [
        measure_quality("all-MiniLM-L6-v2", local),
        measure_quality("hashing", HashingEmbedder()),
    ]

    print(
        f"## Quality ({len(SIMILAR)} similar, {len(UNRELATED)} unrelated pairs, "
        f"{HARD_NEGATIVES} of them homonyms; {len(QUESTIONS)} questions over {len(NOTES)} notes)\n"
    )
    print(
        "| embedder | sim. mean | unrel. mean | homonym mean | AUC | AUC homonyms "
        "| recall@1 | recall@3 | MRR |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for q in qualities:
        print(
            f"| {q.embedder} | {q.similar_mean:.3f} | {q.unrelated_mean:.3f} "
            f"| {q.hard_negative_mean:.3f} | {q.auc:.3f} | {q.auc_hard_negatives:.3f} "
            f"| {q.recall_at_1:.2f} | {q.recall_at_3:.2f} | {q.mrr:.3f} |"
        )
    print(
        f"\n## Speed (all-MiniLM-L6-v2, CPU, {os.cpu_count()} cores, "
        f"{speed.torch_threads} torch threads)\n"
    )
    print(f"(load average over the last minute: {os.getloadavg()[0]:.2f})\n")
    for field, value in asdict(speed).items():
        print(f"- {field}: {value:.3f}" if isinstance(value, float) else f"- {field}: {value}")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": {
                    "cpus": os.cpu_count(),
                    "processor": platform.processor(),
                    # Other work on the machine skews the speed figures; this says how much.
                    "load_average_1m_after": os.getloadavg()[0],
                },
                "quality": [asdict(q) for q in qualities],
                "speed": asdict(speed),
            },
            indent=2,
        )
    )
    print(f"\nwritten to {RESULTS.name} in {RESULTS.parent.name}/")


if __name__ == "__main__":
    main()
