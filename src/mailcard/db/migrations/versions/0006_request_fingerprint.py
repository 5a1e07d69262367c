"""An outbox message keeps a hash of the request its idempotency key was first used with.

The same key sent again for a different e-mail returned the first message, and the new one was
silently not sent; now it is refused with ``idempotency_key_reused``. Rows stored before have no
hash and keep returning their message.

Revision ID: 0006_request_fingerprint
Revises: 0005_smtp_local_hostname
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_request_fingerprint"
down_revision = "0005_smtp_local_hostname"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox_messages", sa.Column("request_fingerprint", sa.String(64)))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE outbox_messages DROP COLUMN request_fingerprint")  # in place, SQLite >= 3.35
    else:
        op.drop_column("outbox_messages", "request_fingerprint")
