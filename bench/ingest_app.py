"""The two servers of the ingestion benchmark, and the tenant they ingest for.

* ``serve`` — the real app, ``frontdesk.app.create_app(settings)`` exactly as ``frontdesk
  serve`` builds it (middleware, routers, runtime, start-up), configured by the ``FRONTDESK_*``
  environment: ``POST /webhooks/whatsapp`` checks the signature, stores the message and its
  decide job on PostgreSQL and commits before it answers.
* ``bare`` — the baseline: a bare FastAPI app whose ``POST /webhooks/whatsapp`` takes the same
  notification as a pydantic request model (:class:`Notification`, Meta's shape) and answers
  at once with the real route's answer: no middleware, signature, tenant or store.
* ``prepare`` — on the database named by the environment (already migrated): a tenant with a
  WhatsApp connection; writes its phone-number id and app secret to ``--output``.

Both servers run like ``frontdesk serve`` (:func:`bench.baseline_app.serve`: one process, no
access log, the same garbage-collector tuning).

    python -m bench.ingest_app prepare --output tenant.json
    python -m bench.ingest_app serve --port 8002
    python -m bench.ingest_app bare --port 8001
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from fastapi import FastAPI
from pydantic import BaseModel, Field

from bench.baseline_app import serve
from frontdesk.app import create_app
from frontdesk.channels.connections import add_connection
from frontdesk.observability.logging import configure_logging
from frontdesk.security.crypto import SecretBox
from frontdesk.settings import Settings
from frontdesk.store.db import Database
from frontdesk.tenancy.schemas import TenantCreate
from frontdesk.tenancy.service import create_tenant

PATH = "/webhooks/whatsapp"
TENANT_SLUG = "ingest-bench"

Short = Annotated[str, Field(max_length=255)]


class Profile(BaseModel):
    name: Short = ""


class Sender(BaseModel):
    profile: Profile = Profile()
    wa_id: Short


class Text(BaseModel):
    body: Annotated[str, Field(max_length=4096)]


class InboundItem(BaseModel):
    from_: Annotated[str, Field(alias="from", max_length=32)]
    id: Short
    timestamp: Short
    type: Short
    text: Text | None = None


class Metadata(BaseModel):
    display_phone_number: Short
    phone_number_id: Short


class Value(BaseModel):
    messaging_product: Short
    metadata: Metadata
    contacts: list[Sender] = []
    messages: list[InboundItem] = []
    statuses: list[dict[str, Any]] = []


class Change(BaseModel):
    field: Short
    value: Value


class Entry(BaseModel):
    id: Short
    changes: list[Change]


class Notification(BaseModel):
    """Meta's WhatsApp Cloud API notification, as far as a text message goes."""

    object: Literal["whatsapp_business_account"]
    entry: list[Entry]


bare = FastAPI(title="Front Desk ingestion baseline")


@bare.post(PATH)
async def notification(body: Notification) -> dict[str, int]:
    """Take Meta's notification and answer as the real route does, storing nothing."""
    messages = sum(len(change.value.messages) for entry in body.entry for change in entry.changes)
    return {"messages": messages, "statuses": 0, "duplicates": 0}


async def prepare(settings: Settings) -> dict[str, Any]:
    """A tenant with a WhatsApp connection, on the (migrated) database of ``settings``."""
    db = Database(settings)
    box = SecretBox(settings.instance_key)
    phone_number_id = str(10**14 + secrets.randbelow(9 * 10**14))
    app_secret = secrets.token_hex(16)
    try:
        async with db.session() as session:
            tenant = await create_tenant(
                session,
                TenantCreate(slug=TENANT_SLUG, name="Ingestion benchmark"),
                actor="benchmark",
            )
            await add_connection(
                session,
                box,
                tenant.id,
                kind="whatsapp",
                account_id=phone_number_id,
                credentials={
                    "app_secret": app_secret,
                    "verify_token": secrets.token_hex(8),
                    "access_token": "EAAG" + secrets.token_hex(16),
                },
                options={"phone_number": "+57 300 000 0000"},
                actor="benchmark",
            )
            tenant_id = str(tenant.id)
    finally:
        await db.dispose()
    return {"tenant_id": tenant_id, "phone_number_id": phone_number_id, "app_secret": app_secret}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_app")
    commands = parser.add_subparsers(dest="command", required=True)
    prep = commands.add_parser("prepare", help="a tenant with a WhatsApp connection")
    prep.add_argument("--output", type=Path, required=True, help="where to write the JSON")
    for name, text in (("serve", "the real app"), ("bare", "the bare route")):
        command = commands.add_parser(name, help=f"serve {text}")
        command.add_argument("--host", default="127.0.0.1")
        command.add_argument("--port", type=int, default=8002)
    args = parser.parse_args(argv)
    if args.command == "bare":
        serve(bare, args.host, args.port)
        return
    settings = Settings()
    if args.command == "prepare":
        tenant = asyncio.run(prepare(settings))
        args.output.write_bytes(orjson.dumps(tenant, option=orjson.OPT_INDENT_2))
        return
    configure_logging(settings.log_level, settings.log_format)
    serve(create_app(settings), args.host, args.port)


if __name__ == "__main__":
    main()
