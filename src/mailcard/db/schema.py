"""The tables, as SQLAlchemy Core metadata. Alembic migrations are written against this file.

Core (not the ORM) because the outbox's hot paths are bulk inserts and set-based claims; the
domain tables use the same style for one way of doing things.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect


def sqlite_timestamp(moment: datetime) -> str:
    """How SQLAlchemy's SQLite dialect stores a UTC datetime (for the outbox's raw bulk insert)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on SQLite (which stores no zone) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

smtp_accounts = Table(
    "smtp_accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    # "saved": managed by admins; "inline": created from a CLI URL or a flow block's inline settings.
    Column("kind", String(16), nullable=False, default="saved"),
    Column("host", String(255), nullable=False),
    Column("port", Integer, nullable=False),
    Column("security", String(16), nullable=False),
    Column("username", String(320)),
    Column("password_encrypted", Text),
    Column("timeout_seconds", Float, nullable=False, default=30.0),
    Column("verify_tls", Boolean, nullable=False, default=True),
    Column("ca_file", String(1024)),
    Column("from_filter", String(320)),
    Column("is_default", Boolean, nullable=False, default=False),
    Column("max_connections", Integer, nullable=False, default=4),
    Column("rate_per_second", Float),
    Column("rate_window_limit", Integer),
    Column("rate_window_seconds", Float),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

outbox_messages = Table(
    "outbox_messages",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("idempotency_key", String(255), unique=True),
    # queued | sending | retry | sent | failed | cancelled
    Column("status", String(16), nullable=False),
    Column("smtp_account_id", Integer, ForeignKey("smtp_accounts.id")),
    Column("envelope_from", String(320), nullable=False),
    Column("envelope_to", JSON, nullable=False),
    Column("smtputf8", Boolean, nullable=False, default=False),
    Column("message_id", String(255), nullable=False),
    Column("subject", Text, nullable=False, default=""),
    Column("data", LargeBinary, nullable=False),
    Column("customer_id", String(64)),
    Column("flow_run_id", String(64)),
    Column("attempt_count", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", UtcDateTime()),
    Column("last_reason", String(64)),
    Column("last_smtp_code", Integer),
    Column("last_enhanced_code", String(16)),
    Column("last_error", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("settled_at", UtcDateTime()),
    Index("ix_outbox_due", "status", "next_attempt_at"),
    Index("ix_outbox_customer", "customer_id", "created_at"),
    Index("ix_outbox_flow_run", "flow_run_id"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "message_id",
        String(32),
        ForeignKey("outbox_messages.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("number", Integer, nullable=False),
    Column("worker", String(64), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=False),
    # sent | transient | permanent
    Column("outcome", String(16), nullable=False),
    Column("reason", String(64)),
    Column("smtp_code", Integer),
    Column("enhanced_code", String(16)),
    Column("server_text", Text),
    Column("refused", JSON),
)
