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


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
AgentName = Literal["sales", "support", "faq", "handoff"]
ClockTime = Annotated[str, StringConstraints(pattern=r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$")]


class OpeningHours(BaseModel):
    """One weekday's opening hours, in the tenant's time zone (``"08:00"`` to ``"18:00"``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    opens: ClockTime
    closes: ClockTime

    @model_validator(mode="after")
    def _closes_after_opening(self) -> OpeningHours:
        if self.closes <= self.opens:
            raise ValueError(f"closes ({self.closes}) must be later than opens ({self.opens})")
        return self


class BusinessHoursSettings(BaseModel):
    """When the tenant's people answer. ``days`` missing means the context pack's hours; a
    weekday missing from ``days`` is closed. After hours the bot still answers; a handoff then
    says when people are back (``after_hours: "handoff"``) or, with ``"bot_only"``, the bot
    keeps the conversation and offers the other ways to reach the business instead."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: dict[Weekday, OpeningHours] | None = None
    after_hours: Literal["handoff", "bot_only"] = "handoff"


class RoutingSettings(BaseModel):
    """How the engine's router hands conversations to people."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    handoff_on_high_value: bool = Field(
        default=True,
        description="a high-value lead goes to a person; false: the bot offers WhatsApp instead",
    )
    high_value_score: float = Field(default=0.85, ge=0, le=1)
    low_confidence_handoff_after: int = Field(
        default=3, ge=0, le=20, description="unclear messages in a row before a handoff; 0: never"
    )
    low_confidence: float = Field(
        default=0.45, ge=0, le=1, description="intent confidence below which a message is unclear"
    )


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
    lead_score_threshold: float = Field(
        default=0.6, ge=0, le=1, description="purchase-intention score that makes a lead"
    )
    business_hours: BusinessHoursSettings = BusinessHoursSettings()
    agents: tuple[AgentName, ...] = Field(
        default=("sales", "support", "faq", "handoff"), min_length=1, max_length=4
    )
    routing: RoutingSettings = RoutingSettings()

    @field_validator("agents")
    @classmethod
    def _agents(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(value))

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
