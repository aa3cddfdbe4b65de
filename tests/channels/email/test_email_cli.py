"""``frontdesk channel add TENANT email``: the support address as the account, SMTP and
inbound settings with ``--set``, secrets sealed and never printed, bad settings refused in one
line."""

from __future__ import annotations

import json
import sqlite3

from tests.cli.test_cli import env, invoke  # noqa: F401 - the env fixture


def test_connect_a_support_address(env: dict[str, str]) -> None:  # noqa: F811
    assert invoke(env, "tenant", "create", "acme", "--name", "Acme")[0] == 0
    code, out, err = invoke(
        env,
        "channel",
        "add",
        "acme",
        "email",
        "--address",
        "Soporte@Acme.co",
        "--set",
        "display_name=Acme Soporte",
        "--set",
        "smtp_host=smtp.acme.co",
        "--set",
        "smtp_port=465",
        "--set",
        "smtp_tls=tls",
        "--set",
        "smtp_username=soporte@acme.co",
        "--set",
        "smtp_password=the-smtp-password",
        "--set",
        "inbound=mailgun",
        "--set",
        "mailgun_signing_key=key-the-mailgun-signing-key",
        "--set",
        "reply_domain=Reply.Acme.co",
        "--json",
    )
    assert code == 0, err
    added = json.loads(out)
    assert added["kind"] == "email"
    assert added["account_id"] == "soporte@acme.co"
    assert added["options"]["smtp_port"] == 465
    assert added["options"]["reply_domain"] == "reply.acme.co"
    assert added["options"]["inbound"] == "mailgun"
    assert "the-smtp-password" not in out
    assert "key-the-mailgun-signing-key" not in out
    db = env["FRONTDESK_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(db) as conn:
        (sealed,) = conn.execute("SELECT credentials FROM channel_connections").fetchone()
    assert "the-smtp-password" not in sealed


def test_bad_email_settings_are_one_line_and_exit_code_2(env: dict[str, str]) -> None:  # noqa: F811
    assert invoke(env, "tenant", "create", "acme", "--name", "Acme")[0] == 0
    base = ("channel", "add", "acme", "email", "--address", "soporte@acme.co")
    password = ("--set", "smtp_password=x")
    code, _, err = invoke(env, *base, *password)
    assert code == 2
    assert err.strip().startswith("error: smtp_host: Field required")
    code, _, err = invoke(
        env, *base, *password, "--set", "smtp_host=smtp.acme.co", "--set", "smtp_tls=none"
    )
    assert code == 2
    assert "for a local server only" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = invoke(env, *base, "--set", "smtp_host=smtp.acme.co")
    assert code == 2  # no terminal to ask for the SMTP password on
    assert "smtp-password" in err
