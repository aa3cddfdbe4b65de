"""The provider a tenant chose (``TenantSettings.llm``), its API key a sealed secret."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.engine.llm.anthropic import AnthropicProvider
from frontdesk.engine.llm.base import LLMProvider, logger
from frontdesk.engine.llm.fallback import FallbackProvider
from frontdesk.engine.llm.grounded import GroundedProvider
from frontdesk.engine.llm.http import RetryPolicy
from frontdesk.engine.llm.openai import OpenAIProvider
from frontdesk.security.crypto import SealError, SecretBox
from frontdesk.security.secrets import active_secrets
from frontdesk.tenancy.context import TenantContext
from frontdesk.tenancy.schemas import LLMSettings

GROUNDED = GroundedProvider()


def deadline(settings: LLMSettings, policy: RetryPolicy) -> float:
    """How long the fallback waits for the primary: every attempt and a little backoff."""
    attempts = settings.max_retries + 1
    return min(120.0, settings.timeout_seconds * attempts + policy.backoff_cap)


def build_provider(
    settings: LLMSettings,
    *,
    api_key: str | None,
    client: httpx.AsyncClient | None = None,
    policy: RetryPolicy | None = None,
) -> LLMProvider:
    """The provider ``settings`` describe, behind the grounded fallback (unless grounded)."""
    if settings.provider == "grounded" or settings.model is None or settings.url is None:
        return GROUNDED
    policy = policy or RetryPolicy(
        timeout=settings.timeout_seconds, max_retries=settings.max_retries
    )
    primary: LLMProvider
    if settings.provider == "openai":
        primary = OpenAIProvider(
            base_url=settings.url,
            model=settings.model,
            api_key=api_key,
            api_key_header=settings.api_key_header,
            temperature=settings.temperature,
            policy=policy,
            client=client,
        )
    else:
        primary = AnthropicProvider(
            base_url=settings.url,
            model=settings.model,
            api_key=api_key,
            temperature=settings.temperature,
            policy=policy,
            client=client,
        )
    return FallbackProvider(primary, deadline=deadline(settings, policy), fallback=GROUNDED)


async def api_key(session: AsyncSession, box: SecretBox, tenant: TenantContext) -> str | None:
    """The tenant's newest LLM API key, or ``None`` (none stored, or it no longer opens)."""
    try:
        keys = await active_secrets(session, box, tenant.id, purpose="llm")
    except SealError:
        logger().error("llm.key_unreadable", tenant=tenant.slug)
        return None
    return keys[0] if keys else None


async def provider_for(
    session: AsyncSession,
    box: SecretBox,
    tenant: TenantContext,
    *,
    client: httpx.AsyncClient | None = None,
) -> LLMProvider:
    """The provider ``tenant`` chose, with its key; grounded when it chose none."""
    settings = tenant.settings.llm
    if settings.provider == "grounded":
        return GROUNDED
    return build_provider(settings, api_key=await api_key(session, box, tenant), client=client)
