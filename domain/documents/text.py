"""A document's extracted text, put back together from its stored chunks."""

from collections.abc import Sequence

from domain.documents.models import DocumentChunk


def extracted_text(chunks: Sequence[DocumentChunk]) -> str:
    """The text the chunks were cut from: each chunk is `text[char_start:char_end]`, so overlaps
    are taken once and the gaps between sections (blank lines, trimmed spaces) come back as
    line breaks."""
    text = ""
    for chunk in sorted(chunks, key=lambda c: c.char_start):
        if chunk.char_start > len(text):
            text += "\n" * (chunk.char_start - len(text))
        text += chunk.text[len(text) - chunk.char_start :]
    return text
