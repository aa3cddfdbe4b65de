"""``secret rotate`` and ``secret list`` on the embedded database."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import typer
from pydantic import SecretStr
from typer.testing import CliRunner

from frontdesk.cli.admin import tenant_app
from frontdesk.cli.secrets import secret_app
from frontdesk.security.crypto import SecretBox
from frontdesk.security.secrets import active_secrets
from frontdesk.security.signatures import sign_request, verify_request
from frontdesk.settings import Settings
from frontdesk.store.db import Database
from frontdesk.tenancy.service import get_tenant

runner = CliRunner()
app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
app.add_typer(tenant_app, name="tenant")
app.add_typer(secret_app, name="secret")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "FRONTDESK_DATA_DIR": str(tmp_path),
        "FRONTDESK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "FRONTDESK_SECRET_KEY": "cli-test-key-" + "z" * 32,
    }


@pytest.fixture
def acme(env: dict[str, str]) -> str:
    code, out, _ = invoke(env, "tenant", "create", "acme", "--name", "Acme")
    assert code == 0, out
    return "acme"


def invoke(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def active_webhook_secrets(env: dict[str, str]) -> list[str]:
    """What the service reads back, through the same instance key as the command."""
    settings = Settings(
        _env_file=None,
        data_dir=Path(env["FRONTDESK_DATA_DIR"]),
        database_url=env["FRONTDESK_DATABASE_URL"],
        secret_key=SecretStr(env["FRONTDESK_SECRET_KEY"]),
    )

    async def read() -> list[str]:
        db = Database(settings)
        try:
            async with db.session() as session:
                tenant = await get_tenant(session, "acme")
                box = SecretBox(settings.instance_key)
                return await active_secrets(session, box, tenant.id, purpose="webhook")
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_rotate_shows_the_value_once_and_list_never(env: dict[str, str], acme: str) -> None:
    code, out, _ = invoke(env, "secret", "rotate", acme, "--purpose", "webhook", "--json")
    assert code == 0, out
    first = json.loads(out)
    assert first["secret"].startswith("whsec_")
    assert first["hint"] == first["secret"][:12]
    assert first["purpose"] == "webhook"
    assert first["overlap_seconds"] == 24 * 3600
    assert first["active"] is True

    code, out, _ = invoke(env, "secret", "rotate", acme, "--purpose", "webhook", "--json")
    second = json.loads(out)
    assert active_webhook_secrets(env) == [second["secret"], first["secret"]]

    code, out, _ = invoke(env, "secret", "list", acme, "--json")
    assert code == 0
    rows = json.loads(out)
    assert [row["id"] for row in rows] == [second["id"], first["id"]]
    assert [row["active"] for row in rows] == [True, True]
    expires = datetime.fromisoformat(rows[1]["expires_at"])
    created = datetime.fromisoformat(rows[0]["created_at"])
    assert timedelta(hours=23, minutes=59) < expires - created <= timedelta(hours=24)
    for value in (first["secret"], second["secret"]):
        assert value.removeprefix("whsec_") not in out

    # What was shown signs requests the service accepts.
    body = b'{"event": "ping"}'
    headers = sign_request(second["secret"], body)
    verify_request(active_webhook_secrets(env), headers, body)


def test_rotate_with_no_overlap_retires_the_older_at_once(env: dict[str, str], acme: str) -> None:
    invoke(env, "secret", "rotate", acme, "--purpose", "webhook")
    code, out, _ = invoke(
        env, "secret", "rotate", acme, "--purpose", "webhook", "--overlap", "0", "--json"
    )
    assert code == 0, out
    newest = json.loads(out)
    assert active_webhook_secrets(env) == [newest["secret"]]
    _, out, _ = invoke(env, "secret", "list", acme, "--purpose", "webhook", "--json")
    assert [row["active"] for row in json.loads(out)] == [True, False]
    _, out, _ = invoke(env, "secret", "list", acme, "--purpose", "api", "--json")
    assert json.loads(out) == []


def test_the_human_output(env: dict[str, str], acme: str) -> None:
    code, out, _ = invoke(
        env, "secret", "rotate", acme, "--purpose", "identity", "--overlap", "30m"
    )
    assert code == 0, out
    lines = out.splitlines()
    value = lines[1]
    assert value.startswith("whsec_")
    assert len(value) == 50
    assert out.count(value) == 1
    assert "not shown again" in out
    assert "stop working in 30m" in out

    code, out, _ = invoke(env, "secret", "list", acme)
    assert code == 0
    assert value[:12] in out
    assert value.removeprefix("whsec_") not in out


@pytest.mark.parametrize(
    ("overlap", "seconds"),
    [("0", 0), ("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800), ("30D", 2592000)],
)
def test_overlap_forms(env: dict[str, str], acme: str, overlap: str, seconds: int) -> None:
    code, out, _ = invoke(
        env, "secret", "rotate", acme, "--purpose", "api", "--overlap", overlap, "--json"
    )
    assert code == 0, out
    assert json.loads(out)["overlap_seconds"] == seconds


@pytest.mark.parametrize(
    "args",
    [
        ("secret", "rotate", "acme", "--purpose", "api", "--overlap", "abc"),
        ("secret", "rotate", "acme", "--purpose", "api", "--overlap", "-1h"),
        ("secret", "rotate", "acme", "--purpose", "api", "--overlap", "5"),
        ("secret", "rotate", "acme", "--purpose", "api", "--overlap", "1.5h"),
        ("secret", "rotate", "acme", "--purpose", "api", "--overlap", "31d"),
        ("secret", "rotate", "acme", "--purpose", "api", "--overlap", ""),
        ("secret", "rotate", "acme", "--purpose", "ftp"),
        ("secret", "rotate", "acme"),
        ("secret", "rotate", "nobody", "--purpose", "api"),
        ("secret", "list", "nobody"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    env: dict[str, str], acme: str, args: tuple[str, ...]
) -> None:
    code, out, err = invoke(env, *args)
    assert code == 2
    assert "Traceback" not in err
    assert "whsec_" not in out + err
    if "--overlap" in args or "nobody" in args:
        assert err.startswith("error: ")
        assert len(err.strip().splitlines()) == 1


def test_no_arguments_shows_help(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["secret"], env=env)
    assert "rotate" in result.output
    assert "list" in result.output
