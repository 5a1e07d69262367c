"""Automated flows: flows and their versions, events, runs with their trace, agent tasks; and a
per-message retry policy on the outbox (a flow block's "retry" setting).

Revision ID: 0003_flows
Revises: 0002_card
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_flows"
down_revision = "0002_card"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

TABLES = ["agent_tasks", "flow_run_steps", "flow_runs", "events", "flow_versions", "flows"]


def upgrade() -> None:
    op.add_column("outbox_messages", sa.Column("retry_max_attempts", sa.Integer))
    op.add_column("outbox_messages", sa.Column("retry_base_seconds", sa.Float))
    op.create_table(
        "flows",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("current_version", sa.Integer),
        sa.Column("trigger_event", sa.String(100)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_flows_trigger", "flows", ["trigger_event", "active"])
    op.create_table(
        "flow_versions",
        sa.Column("flow_id", sa.String(100), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("findings", sa.JSON, nullable=False),
        sa.Column("created_by", sa.Integer),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name="fk_flow_versions_flow_id_flows", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name="fk_flow_versions_created_by_users", ondelete="SET NULL"
        ),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("customer_id", sa.String(64)),
        sa.Column("customer", sa.JSON),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("run_ids", sa.JSON, nullable=False),
        sa.Column("received_by", sa.Integer),
        sa.Column("received_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["received_by"], ["users.id"], name="fk_events_received_by_users", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_events_type", "events", ["type", "received_at"])
    op.create_table(
        "flow_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("flow_id", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("event_id", sa.String(200)),
        sa.Column("customer_id", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("block_id", sa.String(100)),
        sa.Column("context", sa.JSON, nullable=False),
        sa.Column("step_count", sa.Integer, nullable=False),
        sa.Column("wait_message_id", sa.String(32)),
        sa.Column("next_check_at", TS, nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_expires_at", TS),
        sa.Column("error", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name="fk_flow_runs_flow_id_flows", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name="fk_flow_runs_event_id_events", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_flow_runs_due", "flow_runs", ["status", "next_check_at"])
    op.create_index("ix_flow_runs_flow", "flow_runs", ["flow_id", "created_at"])
    op.create_index("ix_flow_runs_wait_message", "flow_runs", ["wait_message_id"])
    op.create_table(
        "flow_run_steps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("block_id", sa.String(100), nullable=False),
        sa.Column("block_type", sa.String(32), nullable=False),
        sa.Column("edge", sa.String(16)),
        sa.Column("input", sa.JSON, nullable=False),
        sa.Column("output", sa.JSON, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.UniqueConstraint("run_id", "seq", name="uq_flow_run_steps_run_id_seq"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["flow_runs.id"], name="fk_flow_run_steps_run_id_flow_runs", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "agent_tasks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(32)),
        sa.Column("flow_id", sa.String(100)),
        sa.Column("block_id", sa.String(100)),
        sa.Column("assignee_id", sa.Integer),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("notify_message_id", sa.String(32)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("done_at", TS),
        sa.Column("done_by", sa.Integer),
        sa.ForeignKeyConstraint(
            ["run_id"], ["flow_runs.id"], name="fk_agent_tasks_run_id_flow_runs", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name="fk_agent_tasks_assignee_id_users", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["done_by"], ["users.id"], name="fk_agent_tasks_done_by_users", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_agent_tasks_assignee_id", "agent_tasks", ["assignee_id"])


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_column("retry_base_seconds")
        batch.drop_column("retry_max_attempts")
