"""Outbox, delivery attempts and SMTP accounts.

Revision ID: 0001_outbox
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_outbox"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "smtp_accounts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("security", sa.String(16), nullable=False),
        sa.Column("username", sa.String(320)),
        sa.Column("password_encrypted", sa.Text),
        sa.Column("timeout_seconds", sa.Float, nullable=False),
        sa.Column("verify_tls", sa.Boolean, nullable=False),
        sa.Column("ca_file", sa.String(1024)),
        sa.Column("from_filter", sa.String(320)),
        sa.Column("is_default", sa.Boolean, nullable=False),
        sa.Column("max_connections", sa.Integer, nullable=False),
        sa.Column("rate_per_second", sa.Float),
        sa.Column("rate_window_limit", sa.Integer),
        sa.Column("rate_window_seconds", sa.Float),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_smtp_accounts"),
        sa.UniqueConstraint("name", name="uq_smtp_accounts_name"),
    )
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(255)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("smtp_account_id", sa.Integer),
        sa.Column("envelope_from", sa.String(320), nullable=False),
        sa.Column("envelope_to", sa.JSON, nullable=False),
        sa.Column("smtputf8", sa.Boolean, nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("customer_id", sa.String(64)),
        sa.Column("flow_run_id", sa.String(64)),
        sa.Column("attempt_count", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_expires_at", TS),
        sa.Column("last_reason", sa.String(64)),
        sa.Column("last_smtp_code", sa.Integer),
        sa.Column("last_enhanced_code", sa.String(16)),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("settled_at", TS),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_messages"),
        sa.UniqueConstraint("idempotency_key", name="uq_outbox_messages_idempotency_key"),
        sa.ForeignKeyConstraint(
            ["smtp_account_id"], ["smtp_accounts.id"], name="fk_outbox_messages_smtp_account_id_smtp_accounts"
        ),
    )
    op.create_index("ix_outbox_due", "outbox_messages", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_customer", "outbox_messages", ["customer_id", "created_at"])
    op.create_index("ix_outbox_flow_run", "outbox_messages", ["flow_run_id"])
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(32), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("worker", sa.String(64), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64)),
        sa.Column("smtp_code", sa.Integer),
        sa.Column("enhanced_code", sa.String(16)),
        sa.Column("server_text", sa.Text),
        sa.Column("refused", sa.JSON),
        sa.PrimaryKeyConstraint("id", name="pk_delivery_attempts"),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outbox_messages.id"],
            name="fk_delivery_attempts_message_id_outbox_messages",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_delivery_attempts_message_id", "delivery_attempts", ["message_id"])


def downgrade() -> None:
    op.drop_table("delivery_attempts")
    op.drop_table("outbox_messages")
    op.drop_table("smtp_accounts")
