"""Refs are dropped from spoken text however the tokens split them."""

import re
from collections.abc import AsyncIterator

import pytest

from voice.spoken import without_refs

REF = "[note:0f8fad5b-d9cb-469f-a165-70867728950e]"


async def _tokens(*pieces: str) -> AsyncIterator[str]:
    for piece in pieces:
        yield piece


@pytest.mark.parametrize(
    "pieces",
    [
        ("Citrate first ", REF, ". Then more."),
        ("Citrate first [no", "te:0f8fad5b-d9cb-469f-a165-", "70867728950e]. Then more."),
        (f"Citrate first {REF}. Then more.",),
    ],
)
async def test_refs_are_not_spoken(pieces: tuple[str, ...]) -> None:
    spoken = "".join([text async for text in without_refs(_tokens(*pieces))])
    assert spoken == "Citrate first. Then more."


async def test_other_brackets_are_spoken() -> None:
    text = "Use [brackets] and a lone [ sign " + "x" * 60
    pieces = re.findall(r"\S+\s*", text)
    spoken = "".join([piece async for piece in without_refs(_tokens(*pieces))])
    assert spoken == text
