from pathlib import Path

from api.realtime.asyncapi import asyncapi_document, render

DOC = Path(__file__).parents[2] / "docs" / "asyncapi.json"


def test_the_committed_asyncapi_document_matches_the_models() -> None:
    assert DOC.read_text() == render(), "run: python -m api.realtime.asyncapi > docs/asyncapi.json"


def test_every_message_reference_resolves() -> None:
    document = asyncapi_document()
    messages = document["components"]["messages"]
    schemas = document["components"]["schemas"]
    for operation in document["operations"].values():
        for ref in operation["messages"]:
            assert ref["$ref"].rsplit("/", 1)[-1] in messages
    assert all(m["payload"]["$ref"].rsplit("/", 1)[-1] in schemas for m in messages.values())
    names = {m["name"] for m in messages.values()}
    assert {"auth", "chat.send", "resume", "chat.token", "chat.done", "resync_required"} <= names
