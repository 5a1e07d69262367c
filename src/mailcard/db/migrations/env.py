"""Alembic environment: runs migrations on the connection handed over by :func:`mailcard.db.migrate.upgrade`."""

from __future__ import annotations

from alembic import context

from mailcard.db.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations through `mailcard db upgrade`, which provides the connection.")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
