"""The customer card: users, API tokens, sessions, stores, sender addresses and their confirmations,
customers, templates and the card's message history.

Revision ID: 0002_card
Revises: 0001_outbox
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_card"
down_revision = "0001_outbox"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

TABLES = [
    "customer_emails",
    "templates",
    "customers",
    "sender_confirmations",
    "sender_address_grants",
    "sender_addresses",
    "user_stores",
    "stores",
    "user_sessions",
    "api_tokens",
    "users",
]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("login", sa.String(120), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text),
        sa.Column("is_active", sa.Boolean, nullable=False),
        sa.Column("sender_confirmed_at", TS),
        sa.Column("sender_allowed", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("login", name="uq_users_login"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_used_at", TS),
        sa.Column("revoked_at", TS),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_api_tokens_user_id_users", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("session_hash", sa.String(64), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.UniqueConstraint("session_hash", name="uq_user_sessions_session_hash"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_user_sessions_user_id_users", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])
    op.create_table(
        "stores",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sender_email", sa.String(320)),
        sa.Column("sender_name", sa.String(200)),
        sa.Column("sender_confirmed_at", TS),
        sa.Column("smtp_account_id", sa.Integer),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("code", name="uq_stores_code"),
        sa.ForeignKeyConstraint(
            ["smtp_account_id"],
            ["smtp_accounts.id"],
            name="fk_stores_smtp_account_id_smtp_accounts",
            ondelete="SET NULL",
        ),
    )
    op.create_table(
        "user_stores",
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("store_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "store_id", name="pk_user_stores"),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name="fk_user_stores_store_id_stores", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_user_stores_user_id_users", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "sender_addresses",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("confirmed_at", TS),
        sa.Column("all_users", sa.Boolean, nullable=False),
        sa.Column("smtp_account_id", sa.Integer),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("email", name="uq_sender_addresses_email"),
        sa.ForeignKeyConstraint(
            ["smtp_account_id"],
            ["smtp_accounts.id"],
            name="fk_sender_addresses_smtp_account_id_smtp_accounts",
            ondelete="SET NULL",
        ),
    )
    op.create_table(
        "sender_address_grants",
        sa.Column("sender_address_id", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("sender_address_id", "user_id", name="pk_sender_address_grants"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_sender_address_grants_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["sender_address_id"],
            ["sender_addresses.id"],
            name="fk_sender_address_grants_sender_address_id_sender_addresses",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "sender_confirmations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.Integer, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("outbox_message_id", sa.String(32)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS),
        sa.UniqueConstraint("token_hash", name="uq_sender_confirmations_token_hash"),
    )
    op.create_index("ix_sender_confirmations_subject", "sender_confirmations", ["kind", "subject_id"])
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("external_id", sa.String(120)),
        sa.Column("email", sa.String(320)),
        sa.Column("first_name", sa.String(200)),
        sa.Column("last_name", sa.String(200)),
        sa.Column("patronymic", sa.String(200)),
        sa.Column("locale", sa.String(16)),
        sa.Column("phone", sa.String(64)),
        sa.Column("custom_fields", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("manager_id", sa.Integer),
        sa.Column("store_id", sa.Integer),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("external_id", name="uq_customers_external_id"),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name="fk_customers_store_id_stores", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["manager_id"], ["users.id"], name="fk_customers_manager_id_users", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_customers_manager_id", "customers", ["manager_id"])
    op.create_index("ix_customers_store_id", "customers", ["store_id"])
    op.create_table(
        "templates",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("preheader", sa.Text),
        sa.Column("html", sa.Text),
        sa.Column("text", sa.Text),
        sa.Column("findings", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_templates_event", "templates", ["event"])
    op.create_table(
        "customer_emails",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.Integer, nullable=False),
        sa.Column("outbox_message_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.Integer),
        sa.Column("template_id", sa.Integer),
        sa.Column("from_kind", sa.String(16), nullable=False),
        sa.Column("from_address", sa.String(320), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("warnings", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("outbox_message_id", name="uq_customer_emails_outbox_message_id"),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name="fk_customer_emails_customer_id_customers",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["templates.id"],
            name="fk_customer_emails_template_id_templates",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_customer_emails_user_id_users", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_customer_emails_customer", "customer_emails", ["customer_id", "created_at"])


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
