"""The long-lived parts of one instance, built once from settings and shared by app and jobs."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from frontdesk.channels.api import ApiChannelAdapter
from frontdesk.channels.base import ChannelRegistry
from frontdesk.channels.batch import InboundWriter
from frontdesk.channels.email.adapter import EmailAdapter
from frontdesk.channels.email.imap import POLL_JOB, make_poll, schedule_polls
from frontdesk.channels.instagram.adapter import InstagramAdapter
from frontdesk.channels.messenger.adapter import MessengerAdapter
from frontdesk.channels.meta_messaging.client import SendApi
from frontdesk.channels.webchat import WebChatAdapter
from frontdesk.channels.whatsapp.adapter import WhatsAppAdapter
from frontdesk.channels.whatsapp.client import GraphClient
from frontdesk.conversations.retention import (
    RETENTION_JOB,
    make_retention_sweep,
    schedule_retention,
)
from frontdesk.crm.hubspot import HubSpotClient
from frontdesk.crm.push import HubSpotPusher
from frontdesk.delivery.sender import WebhookSender
from frontdesk.delivery.tasks import SEND_JOB, breaker_of, make_send, make_send_failed
from frontdesk.delivery.worker import JobRunner
from frontdesk.engine.service import Engine
from frontdesk.engine.tasks import make_decide
from frontdesk.observability.metrics import Metrics
from frontdesk.realtime.hub import Hub
from frontdesk.realtime.invalidation import InvalidationBus, RedisInvalidationBus
from frontdesk.realtime.redis_hub import RedisHub
from frontdesk.security.crypto import SecretBox
from frontdesk.security.keys import KEY_TOPIC, KeyDirectory
from frontdesk.security.ratelimit import RateLimiter
from frontdesk.security.replay import ReplayGuard, make_replay_guard
from frontdesk.security.secrets import SECRET_TOPIC, SecretCache
from frontdesk.security.signing import Keyring
from frontdesk.security.ssrf import UrlGuard
from frontdesk.security.tokens import JTI_TOPIC, TokenService
from frontdesk.settings import Settings
from frontdesk.store.db import Database
from frontdesk.tenancy.service import TOPIC as TENANT_TOPIC
from frontdesk.tenancy.store import TenantContextStore


@dataclass
class Runtime:
    settings: Settings
    db: Database
    metrics: Metrics
    box: SecretBox
    tenants: TenantContextStore
    keyring: Keyring
    tokens: TokenService
    keys: KeyDirectory
    limiter: RateLimiter
    replay: ReplayGuard
    secrets: SecretCache
    bus: InvalidationBus
    hub: Hub
    jobs: JobRunner
    engine: Engine
    webhooks: WebhookSender
    channels: ChannelRegistry
    graph: GraphClient
    inbound: InboundWriter
    crm: HubSpotPusher
    redis: Redis | None = None

    async def start(self) -> None:
        await self.keyring.load()
        await self.tokens.revocations.load(self.db)
        await self.bus.start()
        await self.hub.start()
        await schedule_retention(self.db)
        self.inbound.start()
        await schedule_polls(self.db)
        if self.settings.run_jobs:
            self.jobs.start()

    async def stop(self) -> None:
        await self.jobs.stop()
        await self.inbound.stop()
        await self.hub.stop()
        await self.bus.stop()
        await self.limiter.aclose()
        await self.graph.close()
        await self.crm.client.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.db.dispose()


def build_runtime(settings: Settings, *, engine: Engine | None = None) -> Runtime:
    db = Database(settings)
    metrics = Metrics()
    box = SecretBox(settings.instance_key)
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    hub: Hub = RedisHub(redis) if redis is not None else Hub()
    bus = RedisInvalidationBus(redis, db) if redis is not None else InvalidationBus(db)
    tenants = TenantContextStore(db)
    keyring = Keyring(db, box)
    tokens = TokenService(keyring, issuer=settings.token_issuer)
    keys = KeyDirectory(db)
    secrets = SecretCache(db, box)
    bus.on(TENANT_TOPIC, tenants.invalidate)
    bus.on(KEY_TOPIC, keys.forget)
    bus.on(SECRET_TOPIC, secrets.forget)
    bus.on(JTI_TOPIC, lambda jti: tokens.revocations.add(jti))
    jobs = JobRunner(db, metrics, poll_seconds=settings.job_poll_seconds)
    db.session_info.update(wakeup=jobs.wakeup, bus=bus)
    engine = engine or Engine(box=box)
    graph = GraphClient(settings.graph_url)
    channels = ChannelRegistry(
        WebChatAdapter(),
        ApiChannelAdapter(),
        WhatsAppAdapter(box, graph),
        MessengerAdapter(box, SendApi(graph)),
        InstagramAdapter(box, SendApi(graph)),
        EmailAdapter(box),
    )
    jobs.register(
        "engine.decide",
        make_decide(tenants, engine, hub, needs_delivery=channels.needs_delivery),
    )
    jobs.register(
        SEND_JOB,
        make_send(tenants, channels),
        breaker=breaker_of,
        on_dead=make_send_failed(tenants),
    )
    webhooks = WebhookSender(box, tenants, UrlGuard(allow_private=settings.webhooks_allow_private))
    jobs.register(
        webhooks.kind,
        webhooks,
        policy=webhooks.policy,
        breaker=webhooks.destination,
        on_dead=webhooks.on_dead,
    )
    jobs.register(RETENTION_JOB, make_retention_sweep(tenants))
    jobs.register(POLL_JOB, make_poll(tenants, box, hub))
    crm = HubSpotPusher(box, tenants, HubSpotClient(settings.hubspot_url))
    jobs.register(crm.kind, crm, policy=crm.policy, breaker=crm.destination)
    return Runtime(
        settings=settings,
        db=db,
        metrics=metrics,
        box=box,
        tenants=tenants,
        keyring=keyring,
        tokens=tokens,
        keys=keys,
        limiter=RateLimiter.redis(settings.redis_url)
        if settings.redis_url
        else RateLimiter.memory(),
        replay=make_replay_guard(redis),
        secrets=secrets,
        bus=bus,
        hub=hub,
        jobs=jobs,
        engine=engine,
        webhooks=webhooks,
        channels=channels,
        graph=graph,
        inbound=InboundWriter(db, hub),
        crm=crm,
        redis=redis,
    )
