"""A small realtime client: sign in, get a ticket, open the socket, print what arrives.

    python examples/realtime_client.py --email ada@example.com --password 'correct horse battery'
    python examples/realtime_client.py ... --chat "What should I revise today?"

It subscribes to notifications, progress and plans, reconnects after a dropped socket and
resumes from the last event id it saw (a `resync_required` answer means: refetch over REST).
"""

import argparse
import asyncio
import json

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

TOPICS = ["notifications", "progress", "plans"]
# Closes after which reconnecting cannot help.
FINAL_CLOSE_CODES = {4401, 4429}


async def sign_in(base: str, email: str, password: str) -> str:
    async with httpx.AsyncClient(base_url=base) as http:
        response = await http.post("/auth/login", json={"email": email, "password": password})
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token


async def new_ticket(base: str, token: str) -> str:
    async with httpx.AsyncClient(base_url=base) as http:
        response = await http.post("/realtime/ticket", headers={"Authorization": f"Bearer {token}"})
        response.raise_for_status()
        ticket: str = response.json()["ticket"]
        return ticket


async def run(base: str, email: str, password: str, chat: str | None) -> None:
    token = await sign_in(base, email, password)
    ws_url = base.replace("http", "ws", 1) + "/realtime/ws"
    last_id: str | None = None
    topics = list(TOPICS)
    while True:
        ticket = await new_ticket(base, token)
        try:
            async with connect(ws_url) as ws:
                await ws.send(json.dumps({"type": "auth", "ticket": ticket}))
                if last_id is None:
                    await ws.send(json.dumps({"type": "subscribe", "topics": topics}))
                else:
                    await ws.send(
                        json.dumps({"type": "resume", "last_event_id": last_id, "topics": topics})
                    )
                if chat:
                    await ws.send(json.dumps({"type": "chat.send", "message": chat}))
                    chat = None
                async for raw in ws:
                    message = json.loads(raw)
                    last_id = message["id"]
                    if message["type"] == "chat.token":
                        print(message["data"]["text"], end="", flush=True)
                        continue
                    if message["type"] == "chat.started":
                        topics.append(message["topic"])
                    print(json.dumps(message, ensure_ascii=False))
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            print(f"-- closed ({code}); reconnecting from {last_id}")
            if code in FINAL_CLOSE_CODES:
                return
            await asyncio.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000/api/v1")
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--chat", help="send this chat message once connected")
    args = parser.parse_args()
    asyncio.run(run(args.base, args.email, args.password, args.chat))


if __name__ == "__main__":
    main()
