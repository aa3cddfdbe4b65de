"""The ``frontdesk`` command line on the embedded database: data commands and the chat client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from frontdesk.cli import app
from frontdesk.settings import Settings
from tests.conftest import LiveServer
from tests.factories import PACK

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "FRONTDESK_DATA_DIR": str(tmp_path),
        "FRONTDESK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "FRONTDESK_SECRET_KEY": "cli-test-key-" + "y" * 32,
    }


def invoke(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_tenant_and_key_lifecycle(env: dict[str, str]) -> None:
    code, out, _ = invoke(env, "tenant", "create", "acme", "--name", "Acme SAS", "--json")
    assert code == 0, out
    created = json.loads(out)
    assert created["slug"] == "acme"
    assert created["publishable_key"].startswith("pk_")

    code, out, _ = invoke(env, "tenant", "list", "--json")
    assert [t["slug"] for t in json.loads(out)] == ["acme"]

    code, out, _ = invoke(env, "key", "create", "acme", "--kind", "secret", "--json")
    secret = json.loads(out)
    assert code == 0
    assert secret["key"].startswith("sk_")

    code, out, _ = invoke(env, "key", "list", "acme", "--json")
    keys = json.loads(out)
    assert {k["kind"] for k in keys} == {"publishable", "secret"}
    assert all(secret["key"] not in json.dumps(k) for k in keys)

    code, _, _ = invoke(env, "key", "revoke", "acme", secret["id"])
    assert code == 0
    _, out, _ = invoke(env, "key", "list", "acme", "--json")
    assert {k["id"]: k["revoked"] for k in json.loads(out)}[secret["id"]] is True


def test_pack_validate_and_load(env: dict[str, str], tmp_path: Path) -> None:
    pack_dir = Path(__file__).resolve().parents[2] / "packs" / "colombiatic"
    code, out, _ = invoke(env, "pack", "validate", str(pack_dir), "--json")
    assert code == 0
    assert json.loads(out)["services"] == len(PACK.services)

    invoke(env, "tenant", "create", "acme", "--name", "Acme")
    code, _, _ = invoke(env, "pack", "load", "acme", str(pack_dir))
    assert code == 0
    _, out, _ = invoke(env, "tenant", "show", "acme", "--json")
    assert json.loads(out)["pack"]["services"] == len(PACK.services)

    broken = tmp_path / "broken.yaml"
    broken.write_text("id: x\nservices: [}\n")
    code, _, err = invoke(env, "pack", "validate", str(broken))
    assert code == 2
    assert err.startswith("error: ")
    assert "broken.yaml" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ("tenant", "create", "Bad Slug", "--name", "x"),
        ("tenant", "show", "nobody"),
        ("key", "create", "nobody"),
        ("key", "revoke", "nobody", "not-a-uuid"),
        ("conversation", "show", "nobody", "not-a-uuid"),
        ("pack", "validate", "/nonexistent/pack"),
        ("chat", "colombiatic", ""),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(env: dict[str, str], args: tuple[str, ...]) -> None:
    code, _, err = invoke(env, *args)
    assert code == 2
    assert "Traceback" not in err
    assert err.strip()


def test_duplicate_tenant_is_refused(env: dict[str, str]) -> None:
    invoke(env, "tenant", "create", "acme", "--name", "Acme")
    code, _, err = invoke(env, "tenant", "create", "acme", "--name", "Acme")
    assert code == 2
    assert "already exists" in err


def test_chat_answers_in_the_visitors_language_and_conversations_are_listed(
    env: dict[str, str],
) -> None:
    assert invoke(env, "migrate")[0] == 0
    settings = Settings(
        _env_file=None,
        data_dir=Path(env["FRONTDESK_DATA_DIR"]),  # type: ignore[call-arg]
        database_url=env["FRONTDESK_DATABASE_URL"],
        secret_key=env["FRONTDESK_SECRET_KEY"],
    )
    with LiveServer(settings) as server:
        code, out, err = invoke(
            env,
            "chat",
            "colombiatic",
            "Hola, ¿cuánto cuesta una tienda en línea?",
            "--url",
            server.url,
            "--json",
        )
        assert code == 0, err
        spanish = json.loads(out)
        store = PACK.service("online-store")
        assert store is not None
        assert store.name.get("es") in spanish["text"]
        assert spanish["payload"]["language"] == "es"

        code, out, err = invoke(
            env,
            "chat",
            "colombiatic",
            "How much does a website cost?",
            "--url",
            server.url,
            "--json",
        )
        assert code == 0, err
        english = json.loads(out)
        assert english["payload"]["language"] == "en"
        assert english["conversation_id"] == spanish["conversation_id"]

    code, out, _ = invoke(env, "conversation", "list", "colombiatic", "--json")
    assert code == 0
    assert [c["id"] for c in json.loads(out)] == [spanish["conversation_id"]]
    code, out, _ = invoke(
        env, "conversation", "show", "colombiatic", spanish["conversation_id"], "--json"
    )
    messages = json.loads(out)
    assert [(m["direction"], m["channel"]) for m in messages] == [
        ("in", "webchat"),
        ("out", "webchat"),
    ] * 2
    assert messages[0]["text"] == "Hola, ¿cuánto cuesta una tienda en línea?"
    assert messages[1]["status"] == "sent"


def test_chat_without_a_server_fails_cleanly(env: dict[str, str]) -> None:
    invoke(env, "migrate")
    settings = Settings(
        _env_file=None,
        data_dir=Path(env["FRONTDESK_DATA_DIR"]),  # type: ignore[call-arg]
        database_url=env["FRONTDESK_DATABASE_URL"],
        secret_key=env["FRONTDESK_SECRET_KEY"],
    )
    with LiveServer(settings):
        pass  # registers the owner tenant and its key, then stops
    code, _, err = invoke(env, "chat", "colombiatic", "hola", "--url", "http://127.0.0.1:9")
    assert code == 2
    assert "cannot reach" in err
