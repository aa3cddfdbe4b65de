"""Per-tenant choice of provider: settings, the sealed API key, the factory and the CLI."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from typer.testing import CliRunner

from frontdesk.cli import app as cli
from frontdesk.engine.llm import (
    Draft,
    FallbackProvider,
    GroundedProvider,
    OpenAIProvider,
    build_provider,
    build_request,
    provider_for,
)
from frontdesk.engine.llm.anthropic import AnthropicProvider
from frontdesk.errors import Invalid
from frontdesk.runtime import Runtime
from frontdesk.security.crypto import SecretBox
from frontdesk.security.models import AuditEvent, TenantSecret
from frontdesk.security.secrets import active_secrets, rotate_secret, store_secret
from frontdesk.settings import Settings
from frontdesk.tenancy.schemas import LLMSettings, TenantSettings
from tests.engine.llm.servers import FakeLLMServer, Step, completion
from tests.factories import PACK, make_tenant

KEY = "sk-tenant-key-ABCDEFGH-0000"


@pytest.fixture
def box(settings: Settings) -> SecretBox:
    return SecretBox(settings.instance_key)


def test_settings_default_to_grounded() -> None:
    settings = TenantSettings()
    assert settings.llm.provider == "grounded"
    assert TenantSettings.model_validate({"version": 3}).llm == LLMSettings()


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"provider": "openai"}, "needs a model"),
        ({"provider": "openai", "model": "m", "base_url": "http://api.example.com/v1"}, "https"),
        ({"provider": "openai", "model": "m", "base_url": "ftp://127.0.0.1"}, "http"),
        ({"provider": "anthropic", "model": "m", "base_url": "https://k:s@x.com"}, "credentials"),
        ({"provider": "openai", "model": "m", "base_url": "https://x.com/v1?key=1"}, "query"),
        ({"provider": "openai", "model": "bad model name"}, "model"),
        ({"provider": "gemini", "model": "m"}, "provider"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"max_tokens": 100_000}, "max_tokens"),
        ({"api_key": "sk-nope"}, "api_key"),  # never a setting
    ],
)
def test_invalid_settings(changes: dict[str, object], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        LLMSettings.model_validate(changes)


def test_base_urls() -> None:
    local = LLMSettings(provider="openai", model="llama3", base_url="http://127.0.0.1:11434/v1/")
    assert local.url == "http://127.0.0.1:11434/v1"
    assert LLMSettings(provider="openai", model="m", base_url="http://localhost:8000/v1").url
    assert LLMSettings(provider="openai", model="gpt-4o-mini").url == "https://api.openai.com/v1"
    assert LLMSettings(provider="anthropic", model="claude").url == "https://api.anthropic.com"


def test_build_provider() -> None:
    assert isinstance(build_provider(LLMSettings(), api_key=KEY), GroundedProvider)
    openai = build_provider(LLMSettings(provider="openai", model="m"), api_key=KEY)
    assert isinstance(openai, FallbackProvider)
    assert isinstance(openai.primary, OpenAIProvider)
    assert openai.deadline > 10
    anthropic = build_provider(LLMSettings(provider="anthropic", model="m"), api_key=KEY)
    assert isinstance(anthropic, FallbackProvider)
    assert isinstance(anthropic.primary, AnthropicProvider)
    assert KEY not in repr(openai.primary) + repr(anthropic.primary)


async def test_llm_key_sealed_replaced_and_audited(runtime: Runtime, box: SecretBox) -> None:
    tenant = (await make_tenant(runtime, with_pack=False)).context.id
    async with runtime.db.session() as session:
        first = await store_secret(session, box, tenant, purpose="llm", value=KEY, actor="test")
        second = await store_secret(
            session, box, tenant, purpose="llm", value="sk-second-key-9999", actor="test"
        )
    assert first.hint == "…0000"
    assert second.hint == "…9999"
    async with runtime.db.session() as session:
        assert await active_secrets(session, box, tenant, purpose="llm") == ["sk-second-key-9999"]
        rows = (
            (await session.execute(select(TenantSecret).where(TenantSecret.tenant_id == tenant)))
            .scalars()
            .all()
        )
        assert all(KEY not in row.sealed for row in rows)
        actions = (
            (await session.execute(select(AuditEvent.action).where(AuditEvent.tenant_id == tenant)))
            .scalars()
            .all()
        )
    assert actions.count("secret.stored") == 2
    other = (await make_tenant(runtime, with_pack=False)).context.id
    async with runtime.db.session() as session:
        assert await active_secrets(session, box, other, purpose="llm") == []


async def test_llm_keys_are_given_not_generated(runtime: Runtime, box: SecretBox) -> None:
    tenant = (await make_tenant(runtime, with_pack=False)).context.id
    async with runtime.db.session() as session:
        with pytest.raises(Invalid, match="given"):
            await rotate_secret(
                session, box, tenant, purpose="llm", overlap=timedelta(0), actor="t"
            )
        with pytest.raises(Invalid, match="generated"):
            await store_secret(session, box, tenant, purpose="api", value=KEY, actor="t")
        with pytest.raises(Invalid, match="printable"):
            await store_secret(session, box, tenant, purpose="llm", value="short", actor="t")
        with pytest.raises(Invalid, match="printable"):
            await store_secret(
                session, box, tenant, purpose="llm", value="sk has spaces", actor="t"
            )


async def test_provider_for_a_tenant_uses_its_settings_and_key(
    runtime: Runtime, box: SecretBox, llm_server: FakeLLMServer
) -> None:
    sample = await make_tenant(runtime)
    tenant = sample.context
    draft = Draft(kind="greet", language="es")
    request = build_request(PACK, draft, [("visitor", "hola")])
    async with runtime.db.session() as session:
        assert isinstance(await provider_for(session, box, tenant), GroundedProvider)

    chosen = TenantSettings(
        llm=LLMSettings(provider="openai", model="local-model", base_url=f"{llm_server.url}/v1")
    )
    tenant = dataclasses.replace(tenant, settings=chosen)
    async with runtime.db.session() as session:
        await store_secret(session, box, tenant.id, purpose="llm", value=KEY, actor="test")
    llm_server.reset(Step(json=completion("¡Hola! ¿Qué tienes en mente?")))
    async with runtime.db.session() as session:
        provider = await provider_for(session, box, tenant)
    result = await provider.chat(request)
    assert result.text == "¡Hola! ¿Qué tienes en mente?"
    assert result.provider == "openai"
    [sent] = llm_server.requests
    assert sent.body["model"] == "local-model"
    assert sent.headers["authorization"] == f"Bearer {KEY}"


async def test_unreadable_key_means_no_key(runtime: Runtime, box: SecretBox) -> None:
    sample = await make_tenant(runtime)
    async with runtime.db.session() as session:
        await store_secret(session, box, sample.context.id, purpose="llm", value=KEY, actor="t")
    chosen = TenantSettings(llm=LLMSettings(provider="openai", model="m"))
    tenant = dataclasses.replace(sample.context, settings=chosen)
    wrong = SecretBox(b"another instance key, not ours" + uuid.uuid4().bytes)
    async with runtime.db.session() as session:
        provider = await provider_for(session, wrong, tenant)
    assert isinstance(provider, FallbackProvider)
    assert provider.primary._api_key is None  # type: ignore[attr-defined]


runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "FRONTDESK_DATA_DIR": str(tmp_path),
        "FRONTDESK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "FRONTDESK_SECRET_KEY": "cli-test-key-" + "q" * 32,
    }


def invoke(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(cli, list(args), env=env, input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_cli_sets_key_from_stdin_and_settings(env: dict[str, str]) -> None:
    assert invoke(env, "tenant", "create", "acme", "--name", "Acme")[0] == 0
    code, out, _ = invoke(env, "tenant", "llm-key", "acme", stdin=KEY + "\n")
    assert code == 0
    assert "stored (…0000)" in out
    assert KEY not in out
    code, out, _ = invoke(
        env,
        "tenant",
        "llm",
        "acme",
        "--provider",
        "openai",
        "--model",
        "llama3",
        "--base-url",
        "http://127.0.0.1:11434/v1",
        "--json",
    )
    assert code == 0, out
    assert '"provider": "openai"' in out
    assert '"key": "…0000"' in out
    assert KEY not in out
    code, _, err = invoke(env, "tenant", "llm", "acme", "--base-url", "http://example.com/v1")
    assert code == 2
    assert err.startswith("error: llm.base_url")
    code, _, err = invoke(env, "tenant", "llm-key", "acme", stdin="")
    assert code == 2
    assert "no key given" in err
    code, _, err = invoke(env, "tenant", "llm-key", "nobody", stdin=KEY)
    assert code == 2
    assert code, err
    code, out, _ = invoke(env, "tenant", "llm-key", "acme", "--clear")
    assert code == 0
    assert "removed" in out
    code, out, _ = invoke(env, "tenant", "llm", "acme", "--json")
    assert '"key": null' in out


def test_cli_never_takes_the_key_as_an_argument(env: dict[str, str]) -> None:
    assert invoke(env, "tenant", "create", "acme", "--name", "Acme")[0] == 0
    code, _, _ = invoke(env, "tenant", "llm-key", "acme", KEY)
    assert code == 2  # no such argument
