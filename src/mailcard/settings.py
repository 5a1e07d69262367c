"""Runtime configuration: every ``MAILCARD_*`` environment variable, read once by the composition root.

Nothing reads the environment elsewhere; code receives a ``Settings`` instance (or the pieces it needs)
from :mod:`mailcard.bootstrap`. The README's configuration reference is generated from this class's
field descriptions (``mailcard config --markdown``), so keep descriptions user-facing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mailcard.errors import ConfigurationError
from mailcard.secret import masked_url

_ENV_PREFIX = "MAILCARD_"
# Settings that are URLs and may carry a password in their user-info part.
_URL_SETTINGS = frozenset({"database_url", "smtp_url"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=_ENV_PREFIX, extra="ignore", frozen=True)

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
    port: int = Field(8000, ge=1, le=65535, description="Port the HTTP API listens on.")
    devinbox_port: int = Field(
        1025, ge=1, le=65535, description="Port of the dev inbox (capture SMTP server)."
    )
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
    worker_concurrency: int = Field(
        8, ge=1, le=1000, description="Messages a worker process sends at once (all accounts)."
    )
    worker_batch_size: int = Field(
        64, ge=1, le=1000, description="Messages a worker claims from the outbox in one go."
    )
    worker_poll_seconds: float = Field(
        0.5, gt=0, le=60, description="How often an idle worker looks for due messages."
    )
    lease_seconds: float = Field(
        120.0,
        gt=0,
        description="How long a claimed message stays reserved for its worker (renewed while sending).",
    )
    retry_max_attempts: int = Field(
        8, ge=1, le=100, description="Attempts before a transiently failing message fails."
    )
    retry_base_seconds: float = Field(
        30.0, ge=0, description="Delay before the first retry; doubles each time."
    )
    retry_max_delay_seconds: float = Field(3600.0, ge=0, description="Longest delay between two attempts.")
    retry_max_age_seconds: float = Field(
        86400.0, gt=0, description="A message not delivered this long after it was queued fails."
    )
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="Address users reach the API at; used in confirmation links sent by e-mail.",
    )
    session_hours: float = Field(12.0, gt=0, description="How long a login session lasts.")
    cookie_secure: bool | None = Field(
        None,
        description="Mark session cookies `Secure`. Default: on when `MAILCARD_PUBLIC_URL` is https.",
    )
    confirmation_hours: float = Field(
        24.0, gt=0, description="How long a sender-address confirmation link and code stay valid."
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
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level: DEBUG, INFO, WARNING or ERROR."
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level_any_case(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

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


def load_settings(**overrides: Any) -> Settings:
    """The settings from the environment (and ``overrides``); a value that does not fit its setting
    raises :class:`ConfigurationError` (``invalid_setting``) naming each bad variable, never a traceback.

    The messages carry pydantic's reason but never the value given: it may be a password or a key.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = [
            {
                "variable": _ENV_PREFIX + "_".join(str(part) for part in error["loc"]).upper(),
                "reason": error["msg"],
            }
            for error in exc.errors(include_input=False, include_url=False)
        ]
        raise ConfigurationError(
            "Invalid configuration: " + "; ".join(f"{p['variable']}: {p['reason']}" for p in problems),
            code="invalid_setting",
            hint="Fix these environment variables; `mailcard config` lists every setting and its default.",
            details={"settings": problems},
        ) from None


def _default_text(value: Any) -> str | None:
    """A default as an environment variable would spell it (``false``, not ``False``); None: none."""
    if value is None:
        return None
    return str(value).lower() if isinstance(value, bool) else str(value)


def _range_text(name: str) -> str:
    """The bounds of a numeric setting as a sentence (" Allowed: 1 to 1000."), from its constraints."""
    low = high = None
    above = False
    for rule in Settings.model_fields[name].metadata:
        if getattr(rule, "ge", None) is not None:
            low = rule.ge
        elif getattr(rule, "gt", None) is not None:
            low, above = rule.gt, True
        elif getattr(rule, "le", None) is not None:
            high = rule.le
    if low is None:
        return ""
    if above:
        return f" Must be more than {low}." + (f" At most {high}." if high is not None else "")
    return f" Allowed: {low} to {high}." if high is not None else f" At least {low}."


def describe_settings(settings: Settings | None = None) -> list[dict[str, Any]]:
    """Every setting as ``{variable, default, description}``, plus ``value`` (what ``settings`` holds)
    when given. Secret values are never shown: a set secret reads ``"(set)"``."""
    rows: list[dict[str, Any]] = []
    for name, field in Settings.model_fields.items():
        row: dict[str, Any] = {
            "variable": _ENV_PREFIX + name.upper(),
            "default": _default_text(field.default),
            "description": (field.description or "") + _range_text(name),
        }
        if settings is not None:
            value = getattr(settings, name)
            if isinstance(value, SecretStr):
                row["value"] = "(set)"
            elif name in _URL_SETTINGS and isinstance(value, str):
                row["value"] = masked_url(value, "***")
            else:
                row["value"] = value if value is None or isinstance(value, bool | int | float) else str(value)
        rows.append(row)
    return rows


def reference_markdown() -> str:
    """The README's configuration table (defaults, not this environment's values)."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for row in describe_settings():
        default = "—" if row["default"] is None else f"`{row['default']}`"
        lines.append(f"| `{row['variable']}` | {default} | {row['description']} |")
    return "\n".join(lines) + "\n"
