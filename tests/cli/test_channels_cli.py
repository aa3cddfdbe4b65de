"""``frontdesk channel add|list|remove``: credentials sealed and never printed, one tenant per
provider account, bad input refused in one line."""

from __future__ import annotations

import json
import sqlite3

from frontdesk.channels.connections import KINDS
from tests.cli.test_cli import env, invoke  # noqa: F401 - the env fixture

SECRETS = (
    "--app-secret",
    "app-secret-123",
    "--verify-token",
    "verify-123",
    "--access-token",
    "EAAG-secret-token",
)


def test_add_list_remove_a_whatsapp_number(env: dict[str, str]) -> None:  # noqa: F811
    assert invoke(env, "tenant", "create", "acme", "--name", "Acme")[0] == 0
    code, out, err = invoke(
        env,
        "channel",
        "add",
        "acme",
        "whatsapp",
        "--phone-number-id",
        "1093847561",
        *SECRETS,
        "--phone-number",
        "+57 300 123 4567",
        "--set",
        "template_language=en",
        "--json",
    )
    assert code == 0, err
    added = json.loads(out)
    assert added["account_id"] == "1093847561"
    assert added["options"]["phone_number"] == "573001234567"
    assert added["options"]["template_language"] == "en"
    assert "EAAG-secret-token" not in out

    code, out, _ = invoke(env, "channel", "list", "acme", "--json")
    assert [c["account_id"] for c in json.loads(out)] == ["1093847561"]
    assert "app-secret-123" not in out
    # Sealed at rest: the database holds no credential in the clear.
    db = env["FRONTDESK_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(db) as conn:
        (sealed,) = conn.execute("SELECT credentials FROM channel_connections").fetchone()
    assert "EAAG-secret-token" not in sealed
    assert "app-secret-123" not in sealed

    assert invoke(env, "tenant", "create", "other", "--name", "Other")[0] == 0
    code, _, err = invoke(
        env, "channel", "add", "other", "whatsapp", "--phone-number-id", "1093847561", *SECRETS
    )
    assert code == 2
    assert err.strip() == "error: this whatsapp account is already connected"

    code, out, _ = invoke(env, "channel", "remove", "acme", "1093847561")
    assert code == 0
    assert "removed whatsapp 1093847561" in out
    code, out, _ = invoke(env, "channel", "list", "acme", "--json")
    assert json.loads(out) == []


def test_bad_input_is_one_line_and_exit_code_2(env: dict[str, str]) -> None:  # noqa: F811
    assert invoke(env, "tenant", "create", "acme", "--name", "Acme")[0] == 0
    code, _, err = invoke(
        env, "channel", "add", "acme", "telegram", "--phone-number-id", "1", *SECRETS
    )
    kinds = ", ".join(KINDS)
    assert (code, err.strip()) == (2, f"error: unknown channel 'telegram': one of {kinds}")
    code, _, err = invoke(
        env,
        "channel",
        "add",
        "acme",
        "whatsapp",
        "--phone-number-id",
        "1",
        "--app-secret",
        "short",
        "--verify-token",
        "verify-123",
        "--access-token",
        "EAAG-secret-token",
    )
    assert code == 2
    assert err.startswith("error: app_secret:")
    assert len(err.strip().splitlines()) == 1
    code, _, err = invoke(env, "channel", "add", "acme", "whatsapp", *SECRETS)
    assert (code, err.strip()) == (2, "error: whatsapp needs the account: --phone-number-id")
    # A secret not given is asked for on a terminal; without one it is refused, never empty.
    code, _, err = invoke(
        env, "channel", "add", "acme", "whatsapp", "--phone-number-id", "1", *SECRETS[:4]
    )
    assert (code, err.strip()) == (2, "error: whatsapp needs --access-token")
    code, _, err = invoke(
        env, "channel", "add", "acme", "whatsapp", "--account-id", "1", *SECRETS, "--set", "x=1"
    )
    assert (code, err.strip()) == (2, "error: whatsapp has no setting x")
    code, _, err = invoke(
        env, "channel", "add", "acme", "whatsapp", "--account-id", "1", *SECRETS, "--set", "x"
    )
    assert (code, err.strip()) == (2, "error: --set takes KEY=VALUE, not 'x'")
    code, _, err = invoke(env, "channel", "remove", "acme", "nope")
    assert (code, err.strip()) == (2, "error: acme has no connection 'nope'")
    code, _, err = invoke(env, "channel", "list", "missing")
    assert code == 2
