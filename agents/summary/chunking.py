"""Cutting text to fit model calls, measured in approximate tokens (`agents.tokens`)."""

from collections.abc import Iterator

from langchain_text_splitters import RecursiveCharacterTextSplitter

from agents.tokens import approximate_tokens


def split_into_chunks(text: str, chunk_tokens: int) -> list[str]:
    """Paragraphs, then lines, then words, packed into chunks of at most `chunk_tokens`."""
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_tokens,
        # A little overlap keeps a sentence cut at a boundary readable in one of the two chunks.
        chunk_overlap=chunk_tokens // 20,
        length_function=approximate_tokens,
    )
    return splitter.split_text(text)


def groups_within(texts: list[str], budget_tokens: int) -> Iterator[list[str]]:
    """Consecutive texts grouped up to `budget_tokens` each, and at least two to a group (when
    two are left), so every round of collapsing at least halves their number."""
    group: list[str] = []
    used = 0
    for text in texts:
        tokens = approximate_tokens(text)
        if len(group) >= 2 and used + tokens > budget_tokens:
            yield group
            group, used = [], 0
        group.append(text)
        used += tokens
    if group:
        yield group
