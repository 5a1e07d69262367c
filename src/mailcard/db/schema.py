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
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect


def sqlite_timestamp(moment: datetime) -> str:
    """How SQLAlchemy's SQLite dialect stores a UTC datetime (for the outbox's raw bulk insert)."""
    # isoformat, not strftime: the same text at half the cost (glibc's strftime consults the zone).
    if moment.tzinfo is UTC:  # the usual case (the clocks give UTC): no conversions, cut "+00:00"
        return moment.isoformat(" ", "microseconds")[:-6]
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


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
    Column("local_hostname", String(255)),  # the EHLO name; none: this machine's
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
    # A hash of the request first made with idempotency_key (mailcard.digests.json_digest).
    Column("request_fingerprint", String(64)),
    # queued | sending | retry | sent | failed | cancelled
    Column("status", String(16), nullable=False),
    Column("smtp_account_id", Integer, ForeignKey("smtp_accounts.id")),
    Column("envelope_from", String(320), nullable=False),
    Column("envelope_to", JSON, nullable=False),
    Column("smtputf8", Boolean, nullable=False, default=False),
    Column("message_id", String(255), nullable=False),
    Column("subject", Text, nullable=False, default=""),
    Column("customer_id", String(64)),
    Column("flow_run_id", String(64)),
    Column("attempt_count", Integer, nullable=False, default=0),
    # A per-message retry policy (a flow block's "retry" setting); NULL: the installation's policy.
    Column("retry_max_attempts", Integer),
    Column("retry_base_seconds", Float),
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

# The message bytes, apart from the row whose status changes. SQLite rewrites a whole row, overflow
# pages included, on every UPDATE: with the body inline, claiming and settling a 4 KB message wrote
# its body to the WAL twice more (about 40 µs of CPU a message against 14 µs without it).
outbox_bodies = Table(
    "outbox_bodies",
    metadata,
    Column(
        "message_id",
        String(32),
        ForeignKey("outbox_messages.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("data", LargeBinary, nullable=False),
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

# -- The customer card (issue: send from the customer card) -------------------------------------------
# Users are the managers and admins who log in and send; their own address is a sender identity.

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("login", String(120), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False),
    # admin | manager
    Column("role", String(16), nullable=False),
    Column("password_hash", Text),
    Column("is_active", Boolean, nullable=False, default=True),
    # Set when the user proved they own ``email`` (link or code); cleared when the address changes.
    Column("sender_confirmed_at", UtcDateTime()),
    # "Allow it to be used as a sender": the user's or an admin's explicit switch.
    Column("sender_allowed", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    # SHA-256 of the token: tokens are 256-bit random, so a fast hash is enough and lookups stay O(1).
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_used_at", UtcDateTime()),
    Column("revoked_at", UtcDateTime()),
)

user_sessions = Table(
    "user_sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("session_hash", String(64), nullable=False, unique=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)

stores = Table(
    "stores",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("sender_email", String(320)),
    Column("sender_name", String(200)),
    Column("sender_confirmed_at", UtcDateTime()),
    Column("smtp_account_id", Integer, ForeignKey("smtp_accounts.id", ondelete="SET NULL")),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# Which stores a manager works in: "their stores" for sending as a store and for seeing its customers.
user_stores = Table(
    "user_stores",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("store_id", Integer, ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
)

# Additional sender addresses, set by admins in the system mail settings.
sender_addresses = Table(
    "sender_addresses",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200)),
    Column("confirmed_at", UtcDateTime()),
    # True: every manager may use it; otherwise only the users granted in sender_address_grants.
    Column("all_users", Boolean, nullable=False, default=False),
    Column("smtp_account_id", Integer, ForeignKey("smtp_accounts.id", ondelete="SET NULL")),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

sender_address_grants = Table(
    "sender_address_grants",
    metadata,
    Column(
        "sender_address_id", Integer, ForeignKey("sender_addresses.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)

# A pending proof of ownership for a sender address: a link token and a short code, both hashed.
sender_confirmations = Table(
    "sender_confirmations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # user | store | address
    Column("kind", String(16), nullable=False),
    Column("subject_id", Integer, nullable=False),
    Column("email", String(320), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("code_hash", String(64), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("outbox_message_id", String(32)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("used_at", UtcDateTime()),
    Index("ix_sender_confirmations_subject", "kind", "subject_id"),
)

customers = Table(
    "customers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("external_id", String(120), unique=True),
    Column("email", String(320)),
    Column("first_name", String(200)),
    Column("last_name", String(200)),
    Column("patronymic", String(200)),
    Column("locale", String(16)),
    Column("phone", String(64)),
    Column("custom_fields", JSON, nullable=False, default=dict),
    Column("tags", JSON, nullable=False, default=list),
    Column("manager_id", Integer, ForeignKey("users.id", ondelete="SET NULL"), index=True),
    Column("store_id", Integer, ForeignKey("stores.id", ondelete="SET NULL"), index=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

templates = Table(
    "templates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    # customer | order | ... : which event's data the template is written for.
    Column("event", String(32), nullable=False, index=True),
    Column("subject", Text, nullable=False),
    Column("preheader", Text),
    Column("html", Text),
    Column("text", Text),
    # Validation findings computed at save, so lists can show warnings without re-checking.
    Column("findings", JSON, nullable=False, default=list),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# Message history of the card: who sent what to which customer, as whom; delivery lives in the outbox.
customer_emails = Table(
    "customer_emails",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("outbox_message_id", String(32), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("template_id", Integer, ForeignKey("templates.id", ondelete="SET NULL")),
    # manager | store | address
    Column("from_kind", String(16), nullable=False),
    Column("from_address", String(320), nullable=False),
    Column("subject", Text, nullable=False),
    Column("warnings", JSON, nullable=False, default=list),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_customer_emails_customer", "customer_id", "created_at"),
)

# -- Flows (issue: automated flows with a Send Email block) ----------------------------------------
# A flow's definition is versioned: activating a changed definition adds a version; a run keeps the
# version it started with. Runs are advanced by leased claims, like outbox messages.

flows = Table(
    "flows",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=False),
    # The version new events start; NULL until the first activation.
    Column("current_version", Integer),
    # The current version's trigger event type, so an event finds its flows with one indexed query.
    Column("trigger_event", String(100)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_flows_trigger", "trigger_event", "active"),
)

flow_versions = Table(
    "flow_versions",
    metadata,
    Column("flow_id", String(100), ForeignKey("flows.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, primary_key=True),
    # As stored: inline SMTP passwords replaced by a reference to their encrypted account.
    Column("definition", JSON, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("findings", JSON, nullable=False, default=list),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", UtcDateTime(), nullable=False),
)

events = Table(
    "events",
    metadata,
    # The sender's id: a second POST with the same id is answered with the first one's runs.
    Column("id", String(200), primary_key=True),
    Column("type", String(100), nullable=False),
    Column("customer_id", String(64)),
    # The customer as templates see it when the event arrived (loaded by id, or given inline).
    Column("customer", JSON),
    Column("data", JSON, nullable=False, default=dict),
    Column("run_ids", JSON, nullable=False, default=list),
    Column("received_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("received_at", UtcDateTime(), nullable=False),
    Index("ix_events_type", "type", "received_at"),
)

flow_runs = Table(
    "flow_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("flow_id", String(100), ForeignKey("flows.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("event_id", String(200), ForeignKey("events.id", ondelete="SET NULL")),
    Column("customer_id", String(64)),
    # running | waiting | completed | failed
    Column("status", String(16), nullable=False),
    # The block to execute (running), or the one waiting (a delay, or a send waiting on the outbox).
    Column("block_id", String(100)),
    # Template variables: customer, event, data, vars, email.
    Column("context", JSON, nullable=False),
    Column("step_count", Integer, nullable=False, default=0),
    # The outbox message a send_email block waits for; the run is due when that row settles.
    Column("wait_message_id", String(32)),
    Column("next_check_at", UtcDateTime(), nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", UtcDateTime()),
    Column("error", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime()),
    Index("ix_flow_runs_due", "status", "next_check_at"),
    Index("ix_flow_runs_flow", "flow_id", "created_at"),
    Index("ix_flow_runs_wait_message", "wait_message_id"),
)

# The trace: one row per block executed, with what went in and what came out.
flow_run_steps = Table(
    "flow_run_steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("flow_runs.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("block_id", String(100), nullable=False),
    Column("block_type", String(32), nullable=False),
    # success | failure | true | false | next; NULL while the block waits.
    Column("edge", String(16)),
    Column("input", JSON, nullable=False, default=dict),
    Column("output", JSON, nullable=False, default=dict),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime()),
    UniqueConstraint("run_id", "seq"),
)

# Work for a person, created by a notify_agent block (for example: "the confirmation bounced").
agent_tasks = Table(
    "agent_tasks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("flow_runs.id", ondelete="SET NULL")),
    Column("flow_id", String(100)),
    Column("block_id", String(100)),
    Column("assignee_id", Integer, ForeignKey("users.id", ondelete="SET NULL"), index=True),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False, default=""),
    Column("details", JSON, nullable=False, default=dict),
    # open | done
    Column("status", String(16), nullable=False),
    Column("notify_message_id", String(32)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("done_at", UtcDateTime()),
    Column("done_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
)

# A mailing: one set of templates sent to many recipients, each with their own data. Composed by the
# workers chunk by chunk (mailing_chunks), so a mailing of any size is neither held in memory nor lost.
mailings = Table(
    "mailings",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("sender", Text, nullable=False),
    # No ON DELETE: an account a mailing names cannot go (its recipients would silently change route).
    Column("smtp_account_id", Integer, ForeignKey("smtp_accounts.id")),
    Column("subject", Text, nullable=False),
    Column("preheader", Text),
    Column("text_body", Text),
    Column("html_body", Text),
    Column("timezone", String(64), nullable=False),
    Column("recipient_count", Integer, nullable=False),
    # Warnings found when the mailing was created (shortened links, From differing from the account).
    Column("findings", JSON, nullable=False, default=list),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", UtcDateTime(), nullable=False),
    # Set when the mailing was stopped: nothing more is composed, its waiting messages are cancelled.
    Column("cancelled_at", UtcDateTime()),
    Index("ix_mailings_created", "created_at"),
)

mailing_recipients = Table(
    "mailing_recipients",
    metadata,
    Column("mailing_id", String(32), ForeignKey("mailings.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("address", Text, nullable=False),
    Column("customer_id", String(64)),
    Column("context", JSON, nullable=False),
    # Why no message was made, written when the recipient's chunk is composed (the message itself is
    # found in the outbox by its key mailing:<id>:<seq>).
    Column("error", JSON),
)

# Work units of a mailing's composition: a worker leases a chunk, composes and enqueues its recipients
# (idempotency key mailing:<id>:<seq>), then marks it done in the transaction that leases the next.
mailing_chunks = Table(
    "mailing_chunks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("mailing_id", String(32), ForeignKey("mailings.id", ondelete="CASCADE"), nullable=False),
    Column("first_seq", Integer, nullable=False),
    Column("end_seq", Integer, nullable=False),  # exclusive
    # pending | composing | done | cancelled
    Column("status", String(16), nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", UtcDateTime()),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_mailing_chunks_due", "status", "id"),
    Index("ix_mailing_chunks_mailing", "mailing_id", "first_seq"),
)
