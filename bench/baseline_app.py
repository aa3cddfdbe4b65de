"""The baseline: a bare FastAPI route taking the web chat's request model, served like the app.

``POST /echo`` validates a :class:`~frontdesk.conversations.schemas.MessageCreate` exactly as
the web chat's message route does and answers at once with a reply-shaped
:class:`~frontdesk.conversations.schemas.MessageOut`: no middleware, no database, no jobs, no
stream. It runs under uvicorn with the settings ``frontdesk serve`` uses (one process, the
event loop and HTTP parser uvicorn picks as installed, no access log) and the same start-up
garbage collector tuning, so the two servers differ only in what the request does.

    python -m bench.baseline_app --port 8001
"""

from __future__ import annotations

import argparse
import gc
import itertools
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import uvicorn
from fastapi import FastAPI

from frontdesk.conversations.schemas import MessageCreate, MessageOut

CONVERSATION = uuid.UUID(int=1)
REPLY = (
    "¡Hola! Con gusto te ayudo. Cuéntame un poco más sobre tu negocio y te comparto "
    "precios, lo que incluye y los tiempos de entrega."
)

app = FastAPI(title="Front Desk benchmark baseline")
_seq = itertools.count(2, 2)


def reply(body: MessageCreate) -> MessageOut:
    """A canned reply of the web chat's reply shape to ``body`` (the pipeline benchmark's
    routes answer with it too, so the two servers differ only in what runs before it)."""
    return MessageOut(
        id=uuid.uuid4(),
        conversation_id=CONVERSATION,
        seq=next(_seq),
        direction="out",
        channel="web",
        sender="assistant",
        text=REPLY,
        payload={"in_reply_to": body.client_id, "language": "es", "chars": len(body.text)},
        status="queued",
        created_at=datetime.now(UTC),
    )


@app.post("/echo")
async def echo(body: MessageCreate) -> MessageOut:
    """Answer a visitor's message with a canned reply of the web chat's reply shape."""
    return reply(body)


def serve(asgi: FastAPI, host: str, port: int) -> None:
    """Serve ``asgi`` as ``frontdesk serve`` does: one process, no access log, start-up objects
    kept out of every garbage collection."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    uvicorn.run(
        asgi,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline_app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    serve(app, args.host, args.port)


if __name__ == "__main__":
    main()
