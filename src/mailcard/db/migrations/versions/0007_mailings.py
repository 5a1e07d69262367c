"""Mailings: one set of templates sent to many recipients, composed by the workers chunk by chunk.

Revision ID: 0007_mailings
Revises: 0006_request_fingerprint
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_mailings"
down_revision = "0006_request_fingerprint"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mailings",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sender", sa.Text, nullable=False),
        sa.Column("smtp_account_id", sa.Integer),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("preheader", sa.Text),
        sa.Column("text_body", sa.Text),
        sa.Column("html_body", sa.Text),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("recipient_count", sa.Integer, nullable=False),
        sa.Column("findings", sa.JSON, nullable=False),
        sa.Column("created_by", sa.Integer),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("cancelled_at", TS),
        sa.ForeignKeyConstraint(
            ["smtp_account_id"],
            ["smtp_accounts.id"],
            name="fk_mailings_smtp_account_id_smtp_accounts",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name="fk_mailings_created_by_users", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_mailings_created", "mailings", ["created_at"])
    op.create_table(
        "mailing_recipients",
        sa.Column("mailing_id", sa.String(32), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("customer_id", sa.String(64)),
        sa.Column("context", sa.JSON, nullable=False),
        sa.Column("error", sa.JSON),
        sa.ForeignKeyConstraint(
            ["mailing_id"],
            ["mailings.id"],
            name="fk_mailing_recipients_mailing_id_mailings",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "mailing_chunks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("mailing_id", sa.String(32), nullable=False),
        sa.Column("first_seq", sa.Integer, nullable=False),
        sa.Column("end_seq", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_expires_at", TS),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["mailing_id"], ["mailings.id"], name="fk_mailing_chunks_mailing_id_mailings", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_mailing_chunks_due", "mailing_chunks", ["status", "id"])
    op.create_index("ix_mailing_chunks_mailing", "mailing_chunks", ["mailing_id", "first_seq"])


def downgrade() -> None:
    for table in ("mailing_chunks", "mailing_recipients", "mailings"):
        op.drop_table(table)
