"""The AsyncAPI 3.0 document of the websocket, generated from the protocol models.

`python -m api.realtime.asyncapi > docs/asyncapi.json` regenerates it; a test keeps the
committed copy equal to what the models say.
"""

import json
from typing import Any

from api.realtime.protocol import protocol_schema


def _messages(union: dict[str, Any]) -> dict[str, str]:
    """`type` value -> model name, from a discriminated union's mapping."""
    mapping: dict[str, str] = union["discriminator"]["mapping"]
    return {kind: ref.rsplit("/", 1)[-1] for kind, ref in mapping.items()}


def asyncapi_document() -> dict[str, Any]:
    schema = protocol_schema()
    definitions: dict[str, Any] = schema["$defs"]
    client = _messages(definitions["ClientMessage"])
    server = _messages(definitions["ServerMessage"])
    schemas = {
        name: body
        for name, body in definitions.items()
        if name not in {"ClientMessage", "ServerMessage"}
    }
    messages = {
        model: {
            "name": kind,
            "title": kind,
            "summary": definitions[model].get("description", kind).split("\n")[0],
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{model}"},
        }
        for kind, model in {**client, **server}.items()
    }
    text = json.dumps(schemas).replace("#/$defs/", "#/components/schemas/")
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "StudyPilot realtime",
            "version": "1.0.0",
            "description": "One websocket per client for chat tokens, progress, plans and "
            "notifications. Get a ticket with POST /api/v1/realtime/ticket, connect, send "
            '`{"type": "auth", "ticket": ...}` first. Close codes: 4401 unauthorized, '
            "4408 slow consumer, 4429 too many connections. See docs/realtime.md.",
        },
        "servers": {"local": {"host": "127.0.0.1:8000", "protocol": "ws", "pathname": "/api/v1"}},
        "channels": {
            "realtime": {
                "address": "/realtime/ws",
                "messages": {
                    model: {"$ref": f"#/components/messages/{model}"}
                    for model in {**client, **server}.values()
                },
            }
        },
        "operations": {
            "sendToServer": {
                "action": "receive",
                "channel": {"$ref": "#/channels/realtime"},
                "summary": "Messages the client sends.",
                "messages": [
                    {"$ref": f"#/channels/realtime/messages/{model}"} for model in client.values()
                ],
            },
            "receiveFromServer": {
                "action": "send",
                "channel": {"$ref": "#/channels/realtime"},
                "summary": "Messages the server sends.",
                "messages": [
                    {"$ref": f"#/channels/realtime/messages/{model}"} for model in server.values()
                ],
            },
        },
        "components": {"schemas": json.loads(text), "messages": messages},
    }


def render() -> str:
    return json.dumps(asyncapi_document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
