"""The long-lived parts of one instance, built once from settings and shared by app and jobs."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from frontdesk.channels.base import ChannelRegistry
from frontdesk.channels.webchat import WebChatAdapter
from frontdesk.delivery.tasks import make_send
from frontdesk.delivery.worker import JobRunner
from frontdesk.engine.responder import FirstResponder, Responder
from frontdesk.engine.tasks import make_decide
from frontdesk.observability.metrics import Metrics
from frontdesk.realtime.hub import Hub
from frontdesk.realtime.redis_hub import RedisHub
from frontdesk.security.tokens import VisitorTokens
from frontdesk.settings import Settings
from frontdesk.store.db import Database
from frontdesk.tenancy.store import TenantContextStore


@dataclass
class Runtime:
    settings: Settings
    db: Database
    metrics: Metrics
    tenants: TenantContextStore
    tokens: VisitorTokens
    hub: Hub
    jobs: JobRunner
    responder: Responder
    redis: Redis | None = None

    async def start(self) -> None:
        await self.hub.start()
        self.jobs.start()

    async def stop(self) -> None:
        await self.jobs.stop()
        await self.hub.stop()
        if self.redis is not None:
            await self.redis.aclose()
        await self.db.dispose()


def build_runtime(settings: Settings, *, responder: Responder | None = None) -> Runtime:
    db = Database(settings)
    metrics = Metrics()
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    hub: Hub = RedisHub(redis) if redis is not None else Hub()
    tenants = TenantContextStore()
    jobs = JobRunner(db, metrics, poll_seconds=settings.job_poll_seconds)
    db.job_wakeup = jobs.wakeup
    responder = responder or FirstResponder()
    channels = ChannelRegistry(WebChatAdapter(hub))
    jobs.register("engine.decide", make_decide(tenants, responder, hub))
    jobs.register("delivery.send", make_send(tenants, channels))
    return Runtime(
        settings=settings,
        db=db,
        metrics=metrics,
        tenants=tenants,
        tokens=VisitorTokens(settings.instance_key, issuer="frontdesk"),
        hub=hub,
        jobs=jobs,
        responder=responder,
        redis=redis,
    )
