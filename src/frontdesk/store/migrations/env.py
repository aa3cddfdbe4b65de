"""Alembic environment: runs migrations on the async engine of the configured database."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from frontdesk.channels import models as _channels  # noqa: F401
from frontdesk.channels.email import models as _email  # noqa: F401
from frontdesk.conversations import models as _conversations  # noqa: F401
from frontdesk.crm import models as _crm  # noqa: F401
from frontdesk.delivery import models as _delivery  # noqa: F401
from frontdesk.realtime import models as _realtime  # noqa: F401
from frontdesk.security import models as _security  # noqa: F401
from frontdesk.settings import Settings
from frontdesk.store.base import Base
from frontdesk.store.db import make_engine
from frontdesk.tenancy import models as _tenancy  # noqa: F401

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("url")
    return str(url) if url else Settings().resolved_database_url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = make_engine(_url())
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async())
