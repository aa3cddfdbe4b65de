"""Which tenant a transaction works for, told to PostgreSQL so row-level security applies.

Every tenant-scoped repository binds its tenant to the session; before the next statement of
the transaction the binding is sent as ``SET LOCAL``-style settings (``set_config(…, true)``),
which end with the transaction and so are safe with pooled connections. A session bound to no
tenant sees no tenant rows and cannot insert any: a forgotten scope fails closed. The few
deliberate cross-tenant reads (key look-up by hash, the job runner's claims) run in
``system_scope``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

SET = text(
    "SELECT set_config('app.tenant_id', :tenant, true), set_config('app.scope', :scope, true)"
)
_BOUND = "scope.tenant"
_SYSTEM = "scope.system"
_APPLIED = "scope.applied"


def bind_tenant(session: Any, tenant_id: uuid.UUID) -> None:
    """Make the rest of this unit of work act for ``tenant_id`` (sync or async session)."""
    info = session.info
    if info.get(_BOUND) != tenant_id:
        info[_BOUND] = tenant_id


@asynccontextmanager
async def system_scope(session: Any) -> AsyncIterator[None]:
    """Let the statements inside see every tenant's rows (deliberate cross-tenant work only)."""
    previous = session.info.get(_SYSTEM, False)
    session.info[_SYSTEM] = True
    try:
        yield
        # Changes made inside are written inside, while the wide scope still holds.
        await session.flush()
    except BaseException:
        # The transaction is failing (or cancelled) and its settings die with it: touch
        # nothing on the connection, so the original error is the one that propagates.
        session.info[_SYSTEM] = previous
        raise
    session.info[_SYSTEM] = previous
    sync = session.sync_session if hasattr(session, "sync_session") else session
    if not previous and sync.in_transaction():
        # Send the narrower scope now, before anything else runs in this transaction.
        await session.run_sync(_apply)


async def send_binding(session: Any) -> None:
    """Send the session's binding now, opening its transaction: before statements that do not
    go through the session (a driver statement on its connection) and so fire no event."""
    await session.run_sync(_apply)


def _wanted(session: Session) -> tuple[str, str]:
    tenant = session.info.get(_BOUND)
    return (str(tenant) if tenant else "", "system" if session.info.get(_SYSTEM) else "")


def _apply(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    wanted = _wanted(session)
    if session.info.get(_APPLIED) == wanted:
        return
    session.connection().execute(SET, {"tenant": wanted[0], "scope": wanted[1]})
    session.info[_APPLIED] = wanted


class ScopedSession(Session):
    """The session class of every unit of work: it carries the tenant scope."""


@event.listens_for(ScopedSession, "do_orm_execute")
def _before_statement(state: ORMExecuteState) -> None:
    _apply(state.session)


@event.listens_for(ScopedSession, "before_flush")
def _before_flush(session: Session, *_: object) -> None:
    _apply(session)


@event.listens_for(ScopedSession, "after_transaction_end")
def _after_end(session: Session, transaction: SessionTransaction) -> None:
    # The settings end with the transaction, and a rolled-back savepoint may undo them too.
    session.info.pop(_APPLIED, None)
