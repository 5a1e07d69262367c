"""SMTP accounts keep the name they give in EHLO (``local_hostname`` in an SMTP URL).

It was parsed and used by ``mailcard smtp test``, but not stored with an account, so ``send`` and
the worker greeted with this machine's name instead.

Revision ID: 0005_smtp_local_hostname
Revises: 0004_outbox_bodies
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_smtp_local_hostname"
down_revision = "0004_outbox_bodies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("smtp_accounts", sa.Column("local_hostname", sa.String(255)))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE smtp_accounts DROP COLUMN local_hostname")  # in place, SQLite >= 3.35
    else:
        op.drop_column("smtp_accounts", "local_hostname")
