"""``contact find|export|erase``, ``tenant delete`` and ``retention sweep`` on the embedded
database."""

from __future__ import annotations

import asyncio
import json
import stat
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import typer
from pydantic import SecretStr
from typer.testing import CliRunner

from frontdesk.cli import rights as rights_cli
from frontdesk.cli.admin import tenant_create, tenant_list
from frontdesk.cli.rights import contact_app, retention_app, tenant_delete
from frontdesk.conversations.models import Conversation, Message
from frontdesk.conversations.repository import (
    ContactRepository,
    ConversationRepository,
    MessageRepository,
)
from frontdesk.conversations.service import Profile, conversation_for_identity
from frontdesk.settings import Settings
from frontdesk.store.db import Database
from frontdesk.tenancy.service import get_tenant, to_context, update_settings

T = TypeVar("T")
runner = CliRunner()
tenant_app = typer.Typer(no_args_is_help=True)
tenant_app.command("create")(tenant_create)
tenant_app.command("list")(tenant_list)
tenant_app.command("delete")(tenant_delete)
app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
app.add_typer(tenant_app, name="tenant")
app.add_typer(contact_app, name="contact")
app.add_typer(retention_app, name="retention")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "FRONTDESK_DATA_DIR": str(tmp_path),
        "FRONTDESK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "FRONTDESK_SECRET_KEY": "cli-test-key-" + "r" * 32,
    }


def invoke(env: dict[str, str], *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env, input=input)
    return result.exit_code, result.stdout, result.stderr


def with_db(env: dict[str, str], work: Callable[[Database], Awaitable[T]]) -> T:
    settings = Settings(
        _env_file=None,
        data_dir=Path(env["FRONTDESK_DATA_DIR"]),
        database_url=env["FRONTDESK_DATABASE_URL"],
        secret_key=SecretStr(env["FRONTDESK_SECRET_KEY"]),
    )

    async def run() -> T:
        db = Database(settings)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


def add_person(env: dict[str, str], slug: str, *, email: str, phone: str, handle: str) -> str:
    """A WhatsApp contact of ``slug`` with one message; returns the contact's id."""

    async def work(db: Database) -> str:
        async with db.session() as session:
            tenant = to_context(await get_tenant(session, slug))
            conversation = await conversation_for_identity(
                session,
                tenant,
                channel="whatsapp",
                external_id=handle,
                profile=Profile(name="Ana", email=email, phone=phone),
            )
            seq = await ConversationRepository(session, tenant.id).next_seq(conversation.id)
            MessageRepository(session, tenant.id).add(
                Message(
                    conversation_id=conversation.id,
                    seq=seq,
                    direction="in",
                    channel="whatsapp",
                    sender="visitor",
                    text="Quiero borrar mis datos",
                    status="received",
                )
            )
            return str(conversation.contact_id)

    return with_db(env, work)


def held(env: dict[str, str], slug: str, contact_id: str) -> tuple[int, int]:
    """The contact (0 or 1) and its conversations, as stored."""

    async def work(db: Database) -> tuple[int, int]:
        async with db.session() as session:
            tenant = to_context(await get_tenant(session, slug))
            contact = await ContactRepository(session, tenant.id).get(uuid.UUID(contact_id))
            repo = ConversationRepository(session, tenant.id)
            rows = await session.execute(
                repo.select().where(Conversation.contact_id == uuid.UUID(contact_id))
            )
            return int(contact is not None), len(rows.scalars().all())

    return with_db(env, work)


@pytest.fixture
def acme(env: dict[str, str]) -> str:
    code, out, _ = invoke(env, "tenant", "create", "acme", "--name", "Acme")
    assert code == 0, out
    return "acme"


@pytest.fixture
def ana(env: dict[str, str], acme: str) -> str:
    return add_person(env, acme, email="ana@example.co", phone="+57 300 555 0101", handle="57300")


def one_line_error(code: int, err: str) -> None:
    assert code == 2
    assert err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_find_by_email_phone_or_channel_id(env: dict[str, str], acme: str, ana: str) -> None:
    add_person(env, acme, email="otro@example.co", phone="3109990000", handle="57310")
    for option, value in (
        ("--email", "ANA@example.co"),
        ("--phone", "300 555 0101"),
        ("--channel-id", "57300"),
    ):
        code, out, err = invoke(env, "contact", "find", acme, option, value, "--json")
        assert code == 0, err
        rows = json.loads(out)
        assert [row["id"] for row in rows] == [ana]
        assert rows[0]["email"] == "ana@example.co"
    code, out, _ = invoke(env, "contact", "find", acme, "--email", "ana@example.co")
    assert code == 0
    assert ana in out
    code, out, _ = invoke(env, "contact", "find", acme, "--email", "nadie@example.co")
    assert code == 0
    assert "no contact matches" in out


def test_export_to_stdout_and_to_a_private_file(
    env: dict[str, str], acme: str, ana: str, tmp_path: Path
) -> None:
    code, out, err = invoke(env, "contact", "export", acme, ana)
    assert code == 0, err
    data = json.loads(out)
    assert data["contact"]["id"] == ana
    assert data["contact"]["phone"] == "+57 300 555 0101"
    (thread,) = data["conversations"]
    assert [m["text"] for m in thread["messages"]] == ["Quiero borrar mis datos"]

    target = tmp_path / "ana.json"
    code, out, err = invoke(env, "contact", "export", acme, ana, "--output", str(target))
    assert code == 0, err
    assert "1 conversations, 1 messages" in out
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    written: dict[str, Any] = json.loads(target.read_text())
    assert written["contact"] == data["contact"]
    assert written["conversations"] == data["conversations"]


def test_erase_needs_a_yes(
    env: dict[str, str], acme: str, ana: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = invoke(env, "contact", "erase", acme, ana)
    one_line_error(code, err)
    assert "--yes" in err
    assert held(env, acme, ana) == (1, 1)

    monkeypatch.setattr(rights_cli, "interactive", lambda: True)
    code, _, _ = invoke(env, "contact", "erase", acme, ana, input="n\n")
    assert code == 1
    assert held(env, acme, ana) == (1, 1)

    code, out, err = invoke(env, "contact", "erase", acme, ana, input="y\n")
    assert code == 0, err
    assert "erased contact" in out
    assert held(env, acme, ana) == (0, 0)


def test_erase_with_yes_reports_counts_and_leaves_others(
    env: dict[str, str], acme: str, ana: str
) -> None:
    other = add_person(env, acme, email="otro@example.co", phone="3109990000", handle="57310")
    code, out, err = invoke(env, "contact", "erase", acme, ana, "--yes", "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "contact_id": ana,
        "messages": 1,
        "identities": 1,
        "conversations": 1,
        "leads": 0,
        "contacts": 1,
        "jobs": 0,
    }
    assert held(env, acme, ana) == (0, 0)
    assert held(env, acme, other) == (1, 1)
    code, _, err = invoke(env, "contact", "erase", acme, ana, "--yes")
    one_line_error(code, err)
    assert "no contact" in err


def test_a_contact_of_another_tenant_is_not_found(env: dict[str, str], acme: str, ana: str) -> None:
    assert invoke(env, "tenant", "create", "globex", "--name", "Globex")[0] == 0
    for args in (("export", "globex", ana), ("erase", "globex", ana, "--yes")):
        code, out, err = invoke(env, "contact", *args)
        one_line_error(code, err)
        assert "ana@example.co" not in out + err
    assert held(env, acme, ana) == (1, 1)


@pytest.mark.parametrize(
    "args",
    [
        ("contact", "find", "acme"),
        ("contact", "find", "nobody", "--email", "a@example.co"),
        ("contact", "export", "acme", "not-an-id"),
        ("contact", "erase", "acme", "not-an-id", "--yes"),
        ("contact", "export", "nobody", str(uuid.uuid4())),
        ("tenant", "delete", "nobody", "--yes"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    env: dict[str, str], acme: str, args: tuple[str, ...]
) -> None:
    code, _, err = invoke(env, *args)
    one_line_error(code, err)


def test_tenant_delete_prints_the_purge_report(env: dict[str, str], acme: str, ana: str) -> None:
    code, _, err = invoke(env, "tenant", "delete", acme)
    one_line_error(code, err)
    assert held(env, acme, ana) == (1, 1)

    code, out, err = invoke(env, "tenant", "delete", acme, "--yes", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["slug"] == acme
    counts = report["counts"]
    assert counts["tenants"] == 1
    assert counts["contacts"] == counts["conversations"] == counts["messages"] == 1
    assert counts["api_keys"] == 1
    assert report["total"] == sum(counts.values())
    _, out, _ = invoke(env, "tenant", "list", "--json")
    assert json.loads(out) == []


def test_tenant_delete_human_output_and_the_owner_refused(env: dict[str, str], acme: str) -> None:
    code, out, err = invoke(env, "tenant", "delete", acme, "--yes")
    assert code == 0, err
    assert f"deleted tenant {acme}" in out
    assert "total" in out

    assert invoke(env, "tenant", "create", "colombiatic", "--name", "Owner")[0] == 0
    code, _, err = invoke(env, "tenant", "delete", "colombiatic", "--yes")
    one_line_error(code, err)
    assert "owner" in err
    _, out, _ = invoke(env, "tenant", "list", "--json")
    assert [row["slug"] for row in json.loads(out)] == ["colombiatic"]


def test_retention_sweep(env: dict[str, str], acme: str, ana: str) -> None:
    assert invoke(env, "tenant", "create", "globex", "--name", "Globex")[0] == 0
    other = add_person(env, "globex", email="g@example.co", phone="1", handle="g")

    async def configure(db: Database) -> None:
        async with db.session() as session:
            row = await get_tenant(session, acme)
            await update_settings(session, row, {"retention_days": 1}, actor="test")
            for slug in (acme, "globex"):
                tenant = to_context(await get_tenant(session, slug))
                repo = ConversationRepository(session, tenant.id)
                for conversation in (await session.execute(repo.select())).scalars():
                    conversation.updated_at = conversation.updated_at.replace(year=2020)

    with_db(env, configure)
    code, out, err = invoke(env, "retention", "sweep", "--json")
    assert code == 0, err
    results = {row["tenant"]: row for row in json.loads(out)}
    assert results[acme] == {"tenant": acme, "retention_days": 1, "purged": 1, "error": None}
    assert results["globex"]["purged"] == 0
    assert held(env, acme, ana) == (1, 0)
    assert held(env, "globex", other) == (1, 1)

    code, out, _ = invoke(env, "retention", "sweep")
    assert code == 0
    assert "keep" in out


def test_contact_without_arguments_shows_help(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["contact"], env=env)
    for command in ("find", "export", "erase"):
        assert command in result.output
