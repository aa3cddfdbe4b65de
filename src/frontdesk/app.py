"""``create_app(settings)``: builds the ASGI app and wires everything; no logic here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from frontdesk import __version__
from frontdesk.gateway import problems
from frontdesk.gateway.deps import document_parameters
from frontdesk.gateway.middleware import Pipeline, index_routes
from frontdesk.gateway.routers import (
    admin,
    agents,
    api,
    auth,
    channels,
    connections,
    crm,
    demo,
    email,
    messaging,
    ops,
    providers,
    sdk,
    web,
    webhooks,
)
from frontdesk.runtime import Runtime, build_runtime
from frontdesk.security.client_ip import parse_networks
from frontdesk.settings import Settings
from frontdesk.tenancy.owner import ensure_owner


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or Settings()
    rt = runtime or build_runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.seed_owner:
            await ensure_owner(rt.db, settings)
        await rt.start()
        try:
            yield
        finally:
            await rt.stop()

    app = FastAPI(
        title="Front Desk",
        version=__version__,
        summary="Multi-tenant, omnichannel AI front desk",
        lifespan=lifespan,
    )
    app.state.runtime = rt
    problems.install(app)
    app.include_router(ops.router)
    app.include_router(auth.router)
    app.include_router(api.router)
    app.include_router(agents.router)
    app.include_router(admin.router)
    app.include_router(connections.router)
    app.include_router(channels.router)
    app.include_router(providers.router)
    app.include_router(email.router)
    app.include_router(messaging.router)
    app.include_router(crm.router)
    app.include_router(web.router)
    app.include_router(demo.router)
    app.include_router(sdk.router)
    app.include_router(webhooks.router)
    app.add_middleware(
        Pipeline,
        metrics=rt.metrics,
        max_body=settings.max_body_bytes,
        body_limits=((email.PREFIX, settings.email_max_body_bytes),),
        tenants=rt.tenants,
        trusted_proxies=parse_networks(settings.trusted_proxies),
        flood_per_minute=settings.ip_flood_per_minute,
    )
    index_routes(app)
    document_parameters(app)
    return app
