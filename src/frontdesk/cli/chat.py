"""``frontdesk chat``: a terminal web chat client over the HTTP API."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from httpx_sse import connect_sse
from rich.prompt import Prompt

from frontdesk.cli.common import err, fail, out, print_json, run_db, settings
from frontdesk.security.keys import publishable_key
from frontdesk.store.db import Database
from frontdesk.tenancy.repository import TenantTable

REPLY_TIMEOUT = 30.0


class ChatClient:
    """One visitor of one tenant; the visitor token is kept so the conversation carries on."""

    def __init__(self, base_url: str, tenant: str, key: str, state_file: Path) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=REPLY_TIMEOUT)
        self._prefix = f"/web/v1/{tenant}"
        self._key = key
        self._state_file = state_file
        self.token: str | None = self._load_token()
        self.conversation_id: str | None = None

    def close(self) -> None:
        self._http.close()

    def start(self) -> dict[str, Any]:
        headers = {"X-FrontDesk-Key": self._key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        response = self._http.post(f"{self._prefix}/conversations", headers=headers, json={})
        if response.status_code == 401 and self.token:
            self.token = None
            return self.start()
        session = self._check(response)
        self.token = session["visitor_token"]
        self.conversation_id = session["conversation"]["id"]
        self._save_token()
        return session

    def send(self, text: str) -> dict[str, Any]:
        """Send ``text`` and wait for the assistant's reply to it."""
        headers = {"Authorization": f"Bearer {self.token}"}
        accepted = self._check(
            self._http.post(
                f"{self._prefix}/conversations/{self.conversation_id}/messages",
                headers=headers,
                json={"text": text, "client_id": str(uuid.uuid4())},
            )
        )
        with connect_sse(
            self._http,
            "GET",
            f"{self._prefix}/conversations/{self.conversation_id}/events",
            headers={**headers, "Last-Event-ID": str(accepted["seq"])},
        ) as source:
            if source.response.status_code >= 400:
                source.response.read()
                self._check(source.response)
            for event in source.iter_sse():
                if event.event == "message":
                    message: dict[str, Any] = json.loads(event.data)
                    if message["direction"] == "out":
                        return message
        fail("the stream closed before a reply arrived")

    def _check(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            fail(f"{response.status_code} {detail}")
        data: dict[str, Any] = response.json()
        return data

    def _load_token(self) -> str | None:
        try:
            data = json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return None
        token = data.get("visitor_token")
        return token if isinstance(token, str) else None

    def _save_token(self) -> None:
        self._state_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._state_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"visitor_token": self.token}, handle)


def _local_key(tenant: str) -> str:
    async def work(db: Database) -> str | None:
        async with db.session() as session:
            row = await TenantTable(session).by_slug(tenant)
            if row is None:
                fail(f"no tenant '{tenant}' in the local database")
            return await publishable_key(session, row.id)

    key = run_db(work)
    if not key:
        fail(f"tenant '{tenant}' has no publishable key: create one or pass --key")
    return key


def _print_reply(message: dict[str, Any]) -> None:
    out.print(f"[bold green]assistant[/]: {message['text']}", highlight=False)
    quick = message.get("payload", {}).get("quick_replies") or []
    if quick:
        out.print("  " + " · ".join(f"[{q['title']}]" for q in quick), markup=False, style="dim")


def chat(
    tenant: Annotated[str, typer.Argument(help="Tenant slug, e.g. colombiatic.")],
    message: Annotated[
        str | None, typer.Argument(help="Send one message, print the reply, exit.")
    ] = None,
    url: Annotated[str | None, typer.Option(help="Server URL (default: the local server).")] = None,
    key: Annotated[
        str | None, typer.Option(help="Publishable key (default: from the local database).")
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the reply as JSON.")] = False,
) -> None:
    """Chat with a tenant's assistant from the terminal (interactive without MESSAGE)."""
    config = settings()
    if message is not None and not message.strip():
        fail("MESSAGE is empty")
    if message is not None and len(message) > 4000:
        fail("MESSAGE is longer than 4000 characters")
    base_url = url or config.base_url
    state = config.data_dir / "chat" / f"{tenant}.json"
    client = ChatClient(base_url, tenant, key or _local_key(tenant), state)
    try:
        client.start()
        if message is not None:
            reply = client.send(message.strip())
            if json_:
                print_json(reply)
            else:
                _print_reply(reply)
            return
        err.print(f"chatting with {tenant} at {base_url} (Ctrl-D to quit)", style="dim")
        while True:
            try:
                text = Prompt.ask("[bold]you[/]").strip()
            except (EOFError, KeyboardInterrupt):
                return
            if text:
                _print_reply(client.send(text[:4000]))
    except httpx.TransportError as exc:
        reason = type(exc).__name__
        fail(f"cannot reach {base_url} ({reason}): is the server running? (frontdesk serve)")
    finally:
        client.close()
