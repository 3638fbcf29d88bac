"""Approximate token counting, offline.

About four characters per token is OpenAI's rule of thumb for English; it needs no tokenizer
download and errs on the safe side for most prose, which is all a budget needs.
"""

import math

CHARS_PER_TOKEN = 4


def approximate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)
