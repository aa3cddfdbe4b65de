"""The platform operator's API: tenant lifecycle, with the owner tenant's ``admin`` scope."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from frontdesk.errors import Forbidden
from frontdesk.gateway.deps import Caller, RuntimeDep, Session, requires
from frontdesk.runtime import Runtime
from frontdesk.security.keys import create_key
from frontdesk.tenancy import lifecycle
from frontdesk.tenancy import service as tenants
from frontdesk.tenancy.schemas import (
    AgentName,
    BusinessHoursSettings,
    RoutingSettings,
    TenantCreate,
    TenantOut,
)

router = APIRouter(prefix="/v1/admin", tags=["platform admin"])
SlugPath = Annotated[str, Path(min_length=1, max_length=63, pattern=r"^[a-z0-9-]+$")]


class NotOperator(Forbidden):
    title = "Not the platform operator"
    type_slug = "not-operator"


async def _operator(
    rt: RuntimeDep, caller: Annotated[Caller, Depends(requires("admin"))]
) -> Caller:
    if caller.tenant.slug != rt.settings.owner_slug:
        raise NotOperator("only the owner tenant administers the platform")
    return caller


Operator = Annotated[Caller, Depends(_operator)]


class TenantCreated(TenantOut):
    publishable_key: str


class SettingsChange(BaseModel):
    """The settings to change; everything else stays as it is."""

    model_config = ConfigDict(extra="forbid")

    allowed_origins: list[str] | None = Field(default=None, max_length=50)
    plan: Literal["free", "starter", "pro", "enterprise"] | None = None
    mode: Literal["sales", "support"] | None = None
    default_language: Literal["es", "en"] | None = None
    timezone: str | None = Field(default=None, max_length=64)
    identity_verification: Literal["optional", "required"] | None = None
    retention_days: int | None = Field(default=None, ge=1, le=3650)
    rate_limits: dict[Literal["tenant", "key", "visitor"], int] | None = None
    lead_score_threshold: float | None = Field(default=None, ge=0, le=1)
    business_hours: BusinessHoursSettings | None = None
    agents: list[AgentName] | None = Field(default=None, min_length=1, max_length=4)
    routing: RoutingSettings | None = None


def _out(row: Any) -> dict[str, Any]:
    data = TenantOut.model_validate(row).model_dump(mode="json")
    data["has_pack"] = row.pack is not None
    return data


def actor_of(caller: Caller) -> str:
    return f"admin:{caller.subject}"


@router.get("/tenants")
async def list_tenants(session: Session, caller: Operator) -> list[TenantOut]:
    """Every tenant of the platform."""
    return [TenantOut.model_validate(_out(row)) for row in await tenants.list_tenants(session)]


@router.post("/tenants", status_code=201)
async def create_tenant(session: Session, caller: Operator, body: TenantCreate) -> TenantCreated:
    """Create a tenant, with the publishable key of its web chat."""
    row = await tenants.create_tenant(session, body, actor=actor_of(caller))
    issued = await create_key(
        session, row.id, kind="publishable", name="web", actor=actor_of(caller)
    )
    return TenantCreated.model_validate({**_out(row), "publishable_key": issued.key})


@router.get("/tenants/{slug}")
async def get_tenant(session: Session, caller: Operator, slug: SlugPath) -> TenantOut:
    """One tenant and its settings."""
    return TenantOut.model_validate(_out(await tenants.get_tenant(session, slug)))


@router.patch("/tenants/{slug}")
async def update_tenant(
    session: Session, caller: Operator, slug: SlugPath, body: SettingsChange
) -> TenantOut:
    """Change a tenant's settings (validated as a whole; the previous version is audited)."""
    row = await tenants.get_tenant(session, slug)
    await tenants.update_settings(
        session, row, body.model_dump(exclude_unset=True), actor=actor_of(caller)
    )
    return TenantOut.model_validate(_out(row))


async def _status(
    rt: Runtime, session: Any, caller: Caller, slug: str, status: Literal["active", "suspended"]
) -> TenantOut:
    if slug == rt.settings.owner_slug:
        raise NotOperator("the owner tenant cannot be suspended")
    row = await tenants.get_tenant(session, slug)
    await tenants.set_status(session, row, status, actor=actor_of(caller))
    return TenantOut.model_validate(_out(row))


@router.post("/tenants/{slug}/suspend")
async def suspend_tenant(
    rt: RuntimeDep, session: Session, caller: Operator, slug: SlugPath
) -> TenantOut:
    """Refuse every request of the tenant, at once, on every instance."""
    return await _status(rt, session, caller, slug, "suspended")


@router.post("/tenants/{slug}/reactivate")
async def reactivate_tenant(
    rt: RuntimeDep, session: Session, caller: Operator, slug: SlugPath
) -> TenantOut:
    """Let a suspended tenant in again."""
    return await _status(rt, session, caller, slug, "active")


@router.delete("/tenants/{slug}")
async def delete_tenant(
    rt: RuntimeDep, session: Session, caller: Operator, slug: SlugPath
) -> dict[str, Any]:
    """Delete a tenant and every row it owns; the answer counts what was purged per table."""
    row = await tenants.get_tenant(session, slug)
    report = await lifecycle.delete_tenant(
        session, row, actor=actor_of(caller), owner_slug=rt.settings.owner_slug
    )
    return report.as_dict()
