"""Tenant configuration and the shapes tenants travel in."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from frontdesk.fields import Text
from frontdesk.security.cors import normalize_origin

Slug = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", max_length=63)
]
Language = Literal["es", "en"]

LLM_BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
}
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


class LLMSettings(BaseModel):
    """Which language model phrases the tenant's answers. ``grounded`` (the default) needs
    nothing; ``openai`` (any OpenAI-compatible server: OpenAI, Azure, Ollama, vLLM,
    llama.cpp) and ``anthropic`` need a ``model``, and their API key is a sealed tenant secret
    (``frontdesk tenant llm-key``), never a setting. ``base_url`` must be https, except on
    this machine's loopback for a self-hosted server."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Literal["grounded", "openai", "anthropic"] = "grounded"
    model: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:/@+-]{1,200}$")] | None = None
    base_url: Annotated[str, StringConstraints(max_length=500)] | None = None
    api_key_header: Literal["authorization", "api-key"] = Field(
        default="authorization", description="'api-key' for Azure OpenAI"
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=60, description="per attempt")
    max_retries: int = Field(default=2, ge=0, le=5)
    max_tokens: int = Field(default=400, ge=16, le=4096)
    temperature: float = Field(default=0.3, ge=0, le=2)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("https", "http") or not host:
            raise ValueError("base_url must be an http(s) URL")
        if parts.scheme == "http" and host not in _LOOPBACK:
            raise ValueError("base_url must be https (http only on localhost)")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("base_url must not carry credentials, a query or a fragment")
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _model_named(self) -> LLMSettings:
        if self.provider != "grounded" and self.model is None:
            raise ValueError(f"the {self.provider} provider needs a model")
        return self

    @property
    def url(self) -> str | None:
        """The base URL in use: the setting, or the provider's public API."""
        return self.base_url or LLM_BASE_URLS.get(self.provider)


class TenantSettings(BaseModel):
    """A tenant's configuration; validated on every write."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    mode: Literal["sales", "support"] = "sales"
    default_language: Language = "es"
    languages: tuple[Language, ...] = ("es", "en")
    timezone: Text = Field(default="America/Bogota", max_length=64)
    allowed_origins: tuple[Annotated[str, StringConstraints(max_length=255)], ...] = Field(
        default=(), max_length=50
    )
    plan: Literal["free", "starter", "pro", "enterprise"] = "free"
    rate_limits: dict[
        Literal["tenant", "key", "visitor"], Annotated[int, Field(ge=1, le=1_000_000)]
    ] = Field(default_factory=dict, description="per-minute overrides of the plan's limits")
    identity_verification: Literal["optional", "required"] = "optional"
    retention_days: int | None = Field(
        default=None, ge=1, le=3650, description="conversations idle longer are purged"
    )
    llm: LLMSettings = LLMSettings()

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        normalized = []
        for origin in value:
            clean = normalize_origin(origin)
            if clean is None:
                raise ValueError(f"'{origin}' is not an origin (scheme://host[:port])")
            normalized.append(clean)
        return tuple(dict.fromkeys(normalized))


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: Slug
    name: Text = Field(min_length=1, max_length=200)
    settings: TenantSettings = TenantSettings()


class TenantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    slug: str
    name: str
    status: str
    settings: TenantSettings
    created_at: datetime
    has_pack: bool = False
