"""Scenario ``enqueue``: durable enqueue into the outbox (SQLite WAL, synchronous=FULL), batched.

Each batch is one committed transaction: when ``enqueue_many`` returns, the messages survive a crash
or power loss. Also reports one-message-per-transaction enqueue for comparison.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import QUICK, emit, reference_rate, two_kb_message
from mailcard.db.engine import create_db_engine
from mailcard.db.migrate import upgrade
from mailcard.outbox import NewMessage
from mailcard.outbox.sql import SqlOutboxStore

COUNT = 20000 if QUICK else 100000
BATCH = 1000


def main() -> None:
    reference = reference_rate(messages=5000 if QUICK else 20000)
    messages = [
        NewMessage("shop@example.com", (f"customer{n}@example.com",), two_kb_message(n), f"<{n}@bench>")
        for n in range(COUNT)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_db_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        store = SqlOutboxStore(engine)
        started = time.perf_counter()
        for start in range(0, COUNT, BATCH):
            store.enqueue_many(messages[start : start + BATCH], now=datetime.now(UTC))
        batched = COUNT / (time.perf_counter() - started)
        singles = messages[:500]
        started = time.perf_counter()
        for message in singles:
            store.enqueue(message, now=datetime.now(UTC))
        single = len(singles) / (time.perf_counter() - started)
        engine.dispose()
    emit(
        "enqueue",
        batched,
        reference,
        messages=COUNT,
        batch=BATCH,
        message_size=2048,
        single_transaction_msgs_per_s=round(single, 1),
        target_msgs_per_s=20000,
    )


if __name__ == "__main__":
    main()
