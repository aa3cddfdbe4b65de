"""Instance settings, read from the environment (prefix ``FRONTDESK_``) and ``.env``."""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_KEY_FILE = "secret.key"  # noqa: S105 (a file name)


class Settings(BaseSettings):
    """Everything an instance needs to run; embedded defaults need no server at all."""

    model_config = SettingsConfigDict(env_prefix="FRONTDESK_", env_file=".env", extra="ignore")

    data_dir: Path = Path("./var")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default SQLite file in DATA_DIR"
    )
    migration_database_url: str | None = Field(
        default=None, description="the tables' owner, for migrations (default: DATABASE_URL)"
    )
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = Field(default=None, description="URL the instance is reached at")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] = "json"
    secret_key: SecretStr | None = None
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    email_max_body_bytes: int = Field(
        default=25 * 1024 * 1024,
        ge=1024,
        description="body limit of email providers' inbound-parse posts (attachments included)",
    )
    db_pool_size: int = Field(default=10, ge=1)
    seed_owner: bool = Field(default=True, description="register the owner tenant on start")
    owner_slug: str = "colombiatic"
    pack_dir: Path | None = None
    sdk_dir: Path | None = Field(
        default=None, description="the built JavaScript SDK (default: the checkout's sdk/js/dist)"
    )
    trusted_proxies: list[str] = Field(
        default_factory=list, description="proxy addresses/networks whose X-Forwarded-For counts"
    )
    ip_flood_per_minute: int = Field(default=1200, ge=1, description="pre-auth limit per client IP")
    job_poll_seconds: float = Field(default=1.0, gt=0)
    run_jobs: bool = Field(
        default=True,
        description="false for web-only processes when separate worker processes run the jobs",
    )
    sse_ping_seconds: float = Field(default=15.0, gt=0)
    graph_url: str = Field(  # type: ignore[pydantic-alias]  # the old name is still read
        default="https://graph.facebook.com/v21.0",
        validation_alias=AliasChoices(
            "graph_url", "whatsapp_graph_url", "FRONTDESK_GRAPH_URL", "FRONTDESK_WHATSAPP_GRAPH_URL"
        ),
        description="Meta Graph API base URL (with its version) that WhatsApp, Messenger and "
        "Instagram messages go to (FRONTDESK_WHATSAPP_GRAPH_URL is still read)",
    )
    webhooks_allow_private: bool = Field(
        default=False,
        description="development only: tenant webhook URLs may be http and local/private hosts",
    )
    hubspot_url: str = Field(
        default="https://api.hubapi.com",
        description="HubSpot's API base URL that leads are pushed to",
    )

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'frontdesk.db').as_posix()}"

    @property
    def owner_database_url(self) -> str:
        """Where migrations run: as the owner of the tables, which the app's role is not."""
        return self.migration_database_url or self.resolved_database_url

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def token_issuer(self) -> str:
        """The ``iss`` of our tokens: the public URL when set, a fixed name otherwise."""
        return self.public_url or "urn:frontdesk"

    @property
    def behind_tls(self) -> bool:
        return self.base_url.startswith("https://")

    @cached_property
    def instance_key(self) -> bytes:
        """The instance secret: given, or generated once into DATA_DIR with mode 0600."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        return load_or_create_secret(self.data_dir / SECRET_KEY_FILE)


def load_or_create_secret(path: Path) -> bytes:
    """Read the secret at ``path``, creating it (32 random bytes, hex, mode 0600) if absent."""
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(value)
    return value
