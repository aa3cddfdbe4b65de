"""Tenant configuration and the shapes tenants travel in."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from frontdesk.fields import Text
from frontdesk.security.cors import normalize_origin

Slug = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", max_length=63)
]
Language = Literal["es", "en"]


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
