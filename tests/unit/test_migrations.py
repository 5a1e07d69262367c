"""The Alembic migrations build exactly the schema declared in ``mailcard.db.schema``.

A column added to the metadata but forgotten in a migration (or the reverse) would pass every test
that builds tables from migrations and then fail on a user's upgraded database; this catches it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from mailcard.db.engine import create_db_engine
from mailcard.db.migrate import current_revision, head_revision, upgrade
from mailcard.db.schema import UtcDateTime, delivery_attempts, metadata
from mailcard.outbox.sql import SqlOutboxStore


def _differences(url: str) -> list[object]:
    engine = create_db_engine(url)
    try:
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_sqlite_migrations_match_the_declared_schema(tmp_path: Path) -> None:
    assert _differences(f"sqlite:///{tmp_path / 'm.db'}") == []


def test_postgres_migrations_match_the_declared_schema(postgres) -> None:  # type: ignore[no-untyped-def]
    assert _differences(postgres.fresh_database()) == []


def _upgrade_keeps_queued_mail(url: str) -> None:
    """A database with mail in its outbox, from before the bodies had a table of their own, keeps
    every message's bytes and attempts through the upgrade, and the worker can still claim them."""
    engine = create_db_engine(url)
    try:
        upgrade(engine, "0003_flows")
        stamp = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
        body = "Subject: Привет\r\n\r\nВаш заказ отправлен.\r\n".encode()
        row = {
            "status": "queued",
            "envelope_from": "shop@example.com",
            "envelope_to": ["ivan@example.com"],
            "smtputf8": False,
            "subject": "Привет",
            "attempt_count": 1,
            "next_attempt_at": stamp,
            "created_at": stamp,
            "updated_at": stamp,
        }
        # outbox_messages as revision 0003 left it, with the bytes inline.
        columns = {"id": sa.String, "message_id": sa.String, "data": sa.LargeBinary, "status": sa.String}
        columns |= {"envelope_from": sa.String, "envelope_to": sa.JSON, "smtputf8": sa.Boolean}
        columns |= {"subject": sa.Text, "attempt_count": sa.Integer}
        columns |= dict.fromkeys(["next_attempt_at", "created_at", "updated_at"], UtcDateTime)
        old_outbox = sa.table("outbox_messages", *(sa.column(name, kind()) for name, kind in columns.items()))
        with engine.begin() as conn:
            conn.execute(
                sa.insert(old_outbox),
                [
                    {**row, "id": "m1", "message_id": "<m1@example.com>", "data": body},
                    {**row, "id": "m2", "message_id": "<m2@example.com>", "data": body + b"2"},
                ],
            )
            conn.execute(
                sa.insert(delivery_attempts),
                {
                    "message_id": "m1",
                    "number": 1,
                    "worker": "w",
                    "started_at": stamp,
                    "finished_at": stamp,
                    "outcome": "transient",
                    "reason": "timeout",
                },
            )
        upgrade(engine)
        store = SqlOutboxStore(engine)
        first, second = store.get("m1", with_data=True), store.get("m2", with_data=True)
        assert first is not None and first.data == body
        assert second is not None and second.data == body + b"2"
        assert [a.reason for a in store.attempts("m1")] == ["timeout"]
        claimed = store.claim("w", limit=10, lease_seconds=60, now=stamp + timedelta(minutes=1))
        assert sorted((c.id, c.data, c.attempt_number) for c in claimed) == [
            ("m1", body, 2),
            ("m2", body + b"2", 2),
        ]
    finally:
        engine.dispose()


def test_sqlite_upgrade_keeps_queued_mail(tmp_path: Path) -> None:
    _upgrade_keeps_queued_mail(f"sqlite:///{tmp_path / 'old.db'}")


def test_postgres_upgrade_keeps_queued_mail(postgres) -> None:  # type: ignore[no-untyped-def]
    _upgrade_keeps_queued_mail(postgres.fresh_database())
