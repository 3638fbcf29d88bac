"""Text as it will be spoken: citation refs like `[note:<id>]` are for readers, not listeners.

Tokens arrive in pieces, so a `[` holds the text back until its `]` (or until it clearly is not
a ref) before the ref is dropped."""

import re
from collections.abc import AsyncIterable, AsyncIterator

_REF = re.compile(r"\s?\[(?:note|resource|course):[0-9a-fA-F-]{36}\]")
# Longest a ref can be, plus its leading space: beyond this an open `[` is ordinary text.
_MAX_REF_CHARS = len("[resource:]") + 36 + 1


async def without_refs(tokens: AsyncIterable[str]) -> AsyncIterator[str]:
    held = ""
    async for token in tokens:
        held += token
        open_at = held.rfind("[")
        if open_at == -1 or "]" in held[open_at:] or len(held) - open_at > _MAX_REF_CHARS:
            text, held = _REF.sub("", held), ""
        else:
            text, held = _REF.sub("", held[:open_at]), held[open_at:]
        # Trailing spaces wait for what follows: a ref takes its leading space with it.
        words = text.rstrip()
        held = text[len(words) :] + held
        if words:
            yield words
    if held:
        yield _REF.sub("", held)
