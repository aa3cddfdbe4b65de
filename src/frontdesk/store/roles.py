"""The application's own PostgreSQL role: it neither owns the tables nor bypasses RLS.

Migrations run as the owner (``FRONTDESK_MIGRATION_DATABASE_URL``); the app connects as this
role (``FRONTDESK_DATABASE_URL``), so row-level security always applies to it.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


async def grant_app_role(owner: AsyncEngine, role: str) -> None:
    """Give ``role`` (which must exist, without BYPASSRLS) the use of every table, now and later."""
    if not ROLE_NAME.match(role):
        raise ValueError(f"'{role}' is not a plain role name")
    async with owner.begin() as connection:
        flags = (
            await connection.execute(
                text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = :role"),
                {"role": role},
            )
        ).scalar_one_or_none()
        if flags is None:
            raise ValueError(f"role '{role}' does not exist")
        if flags:
            raise ValueError(f"role '{role}' bypasses row-level security")
        for statement in (
            f"GRANT USAGE ON SCHEMA public TO {role}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}",
            # The audit log is append-only for the application.
            f"REVOKE UPDATE, DELETE ON audit_events FROM {role}",
        ):
            await connection.execute(text(statement))
