"""Runtime configuration: every ``MAILCARD_*`` environment variable, read once by the composition root.

Nothing reads the environment elsewhere; code receives a ``Settings`` instance (or the pieces it needs)
from :mod:`mailcard.bootstrap`. The README's configuration reference is generated from this class's
field descriptions (``mailcard config --markdown``), so keep descriptions user-facing.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MAILCARD_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        Path("var"), description="Directory for the SQLite database, the secret key file and the dev inbox."
    )
    database_url: str | None = Field(
        None,
        description=(
            "SQLAlchemy URL. Default: SQLite (WAL) at `$MAILCARD_DATA_DIR/mailcard.db`. "
            "For several machines use PostgreSQL: `postgresql+psycopg://user:pass@host/db`."
        ),
    )
    secret_key: SecretStr | None = Field(
        None,
        description=(
            "Key that encrypts SMTP passwords at rest (Fernet, url-safe base64 of 32 bytes). "
            "Default: a key generated once into `$MAILCARD_DATA_DIR/secret.key` (mode 0600)."
        ),
    )
    host: str = Field("127.0.0.1", description="Address the HTTP API listens on.")
    port: int = Field(8000, description="Port the HTTP API listens on.")
    devinbox_port: int = Field(1025, description="Port of the dev inbox (capture SMTP server).")
    devinbox_enabled: bool | None = Field(
        None,
        description=(
            "Start the dev inbox with `mailcard run`. Default: on when no SMTP account is configured, "
            "so nothing leaves the machine."
        ),
    )
    smtp_url: str | None = Field(
        None,
        description=(
            "Default SMTP account as a URL: `smtp+starttls://user:pass@host:587`, "
            "`smtps://user:pass@host:465`, or `smtp://host:port` (plain). Default: the dev inbox."
        ),
    )
    smtp_ca_file: str | None = Field(
        None, description="CA bundle to verify SMTP servers' certificates (`SSL_CERT_FILE` is honoured too)."
    )
    worker_concurrency: int = Field(8, description="Messages a worker process sends at once (all accounts).")
    worker_batch_size: int = Field(64, description="Messages a worker claims from the outbox in one go.")
    worker_poll_seconds: float = Field(0.5, description="How often an idle worker looks for due messages.")
    lease_seconds: float = Field(
        120.0, description="How long a claimed message stays reserved for its worker (renewed while sending)."
    )
    retry_max_attempts: int = Field(8, description="Attempts before a transiently failing message fails.")
    retry_base_seconds: float = Field(30.0, description="Delay before the first retry; doubles each time.")
    retry_max_delay_seconds: float = Field(3600.0, description="Longest delay between two attempts.")
    retry_max_age_seconds: float = Field(
        86400.0, description="A message not delivered this long after it was queued fails."
    )
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="Address users reach the API at; used in confirmation links sent by e-mail.",
    )
    session_hours: float = Field(12.0, description="How long a login session lasts.")
    cookie_secure: bool | None = Field(
        None,
        description="Mark session cookies `Secure`. Default: on when `MAILCARD_PUBLIC_URL` is https.",
    )
    confirmation_hours: float = Field(
        24.0, description="How long a sender-address confirmation link and code stay valid."
    )
    system_sender: str | None = Field(
        None,
        description=(
            "From address of system e-mail (sender confirmations, agent notifications). "
            "Default: `mailcard@<host of MAILCARD_PUBLIC_URL>`."
        ),
    )
    demo_data: bool = Field(
        False,
        description=(
            "Load demo customers, managers, stores and templates into an empty database when `mailcard run` "
            "starts (`make run` turns it on). Demo users have published passwords: never in production."
        ),
    )
    log_level: str = Field("INFO", description="Log level: DEBUG, INFO, WARNING or ERROR.")

    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.public_url.lower().startswith("https://")

    def system_sender_address(self) -> str:
        if self.system_sender:
            return self.system_sender
        from urllib.parse import urlsplit

        host = urlsplit(self.public_url).hostname or "localhost"
        # A bare IP is not a mail domain; RFC 2606's .test stays valid for the dev inbox.
        if host.replace(".", "").isdigit() or ":" in host:
            host = "mailcard.test"
        return f"mailcard@{host}"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'mailcard.db').as_posix()}"

    @property
    def devinbox_dir(self) -> Path:
        return self.data_dir / "devinbox"
