"""The outbox's message bytes move to a table of their own, ``outbox_bodies``.

SQLite rewrites a whole row, overflow pages included, on every UPDATE; with the body inline, claiming
and settling a message wrote its body to the WAL twice more. Existing bodies are copied over.

Revision ID: 0004_outbox_bodies
Revises: 0003_flows
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_outbox_bodies"
down_revision = "0003_flows"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_bodies",
        sa.Column("message_id", sa.String(32), primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outbox_messages.id"],
            name="fk_outbox_bodies_message_id_outbox_messages",
            ondelete="CASCADE",
        ),
    )
    op.execute("INSERT INTO outbox_bodies (message_id, data) SELECT id, data FROM outbox_messages")
    _drop_data_column()


def _drop_data_column() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # In place (SQLite >= 3.35). Alembic's batch mode would copy the table and drop the original,
        # and with foreign keys on that drop deletes the attempts and bodies that reference it.
        op.execute("ALTER TABLE outbox_messages DROP COLUMN data")
    else:
        op.drop_column("outbox_messages", "data")


def downgrade() -> None:
    op.add_column("outbox_messages", sa.Column("data", sa.LargeBinary))
    op.execute(
        "UPDATE outbox_messages SET data = "
        "(SELECT data FROM outbox_bodies WHERE outbox_bodies.message_id = outbox_messages.id)"
    )
    op.drop_table("outbox_bodies")
