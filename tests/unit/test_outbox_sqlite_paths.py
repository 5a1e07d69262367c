"""The SQLite outbox's DB-API claim and settle store exactly what the SQLAlchemy statements store.

The store on SQLite bypasses SQLAlchemy for its hot statements; the same store with its SQLite
shortcuts turned off runs the portable statements (those PostgreSQL runs). Both must leave the
same rows behind, value for value and in the same stored form.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import text

from mailcard.db.engine import create_db_engine
from mailcard.db.migrate import upgrade
from mailcard.outbox import Attempt, MessageStatus, NewMessage, Settlement
from mailcard.outbox.sql import SqlOutboxStore

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
MOSCOW = timezone(timedelta(hours=3))


def _messages() -> list[NewMessage]:
    return [
        NewMessage(
            envelope_from="shop@example.com",
            envelope_to=(f"u{n}@example.com", "copy@example.com"),
            data=f"Subject: {n}\r\n\r\nbody {n}\r\n".encode(),
            message_id=f"<{n}@example.com>",
            subject=f"s{n}",
            smtputf8=n % 2 == 1,
            retry_max_attempts=3 if n == 2 else None,
            retry_base_seconds=0.5 if n == 2 else None,
        )
        for n in range(7)
    ]


def _settlements(claimed: dict[str, Any], now: datetime) -> list[Settlement]:
    ids = sorted(claimed)

    def attempt(i: int, outcome: str, **kw: Any) -> Attempt:
        return Attempt(
            message_id=ids[i],
            number=claimed[ids[i]].attempt_number,
            worker="w1",
            started_at=now,
            finished_at=now + timedelta(microseconds=1500),
            outcome=outcome,
            **kw,
        )

    return [
        Settlement(
            attempt(0, "sent", smtp_code=250, server_text="2.0.0 Ok: queued as X"),
            MessageStatus.SENT,
            error="",
        ),
        Settlement(
            attempt(1, "sent", smtp_code=250, server_text="ok", refused={"b@example.com": [550, "no"]}),
            MessageStatus.SENT,
        ),
        Settlement(
            attempt(2, "transient", reason="recipient_rejected", smtp_code=450, enhanced_code="4.2.1"),
            MessageStatus.RETRY,
            next_attempt_at=now + timedelta(minutes=5),
            error="try later",
        ),
        Settlement(attempt(3, "transient", reason="connection_failed"), MessageStatus.RETRY),
        Settlement(
            attempt(
                4, "permanent", reason="rejected", smtp_code=550, enhanced_code="5.1.1", server_text="no such"
            ),
            MessageStatus.FAILED,
            error="gave up",
        ),
        # Timestamps in another zone are stored in UTC all the same.
        Settlement(
            Attempt(
                message_id=ids[5],
                number=1,
                worker="w1",
                started_at=now.astimezone(MOSCOW),
                finished_at=now.astimezone(MOSCOW),
                outcome="sent",
                smtp_code=250,
                server_text="",
            ),
            MessageStatus.SENT,
        ),
    ]


def _run(tmp_path: Path, name: str, *, portable: bool) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_db_engine(f"sqlite:///{tmp_path / name}")
    upgrade(engine)
    store = SqlOutboxStore(engine)
    if portable:
        store._dialect = "portable"  # the SQLAlchemy statements, as on PostgreSQL
    ids = store.enqueue_many(_messages(), now=T0)
    claimed = {m.id: m for m in store.claim("w1", limit=6, lease_seconds=60, now=T0)}
    assert len(claimed) == 6
    # Another worker's stale settlement is fenced off, whatever its shape.
    stale = Attempt(
        message_id=sorted(claimed)[0], number=1, worker="w2", started_at=T0, finished_at=T0, outcome="sent"
    )
    assert store.settle("w2", [Settlement(stale, MessageStatus.SENT)], now=T0) == 0
    later = T0 + timedelta(seconds=3)
    assert store.settle("w1", _settlements(claimed, later), now=later) == 6
    # The retry without a time of its own is due at once; the lease of the last one expires.
    again = store.claim("w1", limit=10, lease_seconds=60, now=T0 + timedelta(minutes=2))
    shapes = sorted((m.id, m.attempt_number, m.envelope_to, m.smtputf8, m.data, m.created_at) for m in again)
    with engine.connect() as conn:
        messages = conn.execute(text("SELECT * FROM outbox_messages ORDER BY id")).all()
        attempts = conn.execute(text("SELECT * FROM delivery_attempts ORDER BY message_id, number")).all()
    engine.dispose()
    rename = dict(zip(ids, (f"m{n}" for n in range(len(ids))), strict=True))
    return {
        "messages": [tuple(rename.get(v, v) for v in row) for row in messages],
        "attempts": [tuple(rename.get(v, v) for v in row[1:]) for row in attempts],
        "claimed": [tuple(rename.get(v, v) for v in row) for row in shapes],
    }


def test_sqlite_claim_and_settle_store_what_the_portable_statements_store(tmp_path: Path) -> None:
    fast = _run(tmp_path, "fast.db", portable=False)
    portable = _run(tmp_path, "portable.db", portable=True)
    assert fast["attempts"] == portable["attempts"]
    assert len(fast["attempts"]) == 7  # the fenced-off attempt is recorded too, as evidence
    assert fast["messages"] == portable["messages"]
    assert fast["claimed"] == portable["claimed"]


def test_a_claim_larger_than_one_bodies_query_gets_every_message_its_own_bytes(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'big.db'}")
    upgrade(engine)
    store = SqlOutboxStore(engine)
    messages = [
        NewMessage("shop@example.com", (f"u{n}@example.com",), f"body {n}\r\n".encode(), f"<{n}@x>")
        for n in range(1_234)
    ]
    ids = store.enqueue_many(messages, now=T0)
    claimed = store.claim("w", limit=2_000, lease_seconds=60, now=T0)
    sent = {m.id: m.data for m in claimed}
    assert sent == {message_id: m.data for message_id, m in zip(ids, messages, strict=True)}
    engine.dispose()
