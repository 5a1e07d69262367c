"""Scenario ``delivery``: outbox (SQLite, durable) → worker → smtp-sink, 2 KB messages.

Measures the time from "messages are queued" to "every message is marked sent in the outbox",
beside smtp-source → smtp-sink in the same run.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import QUICK, emit, reference_rate, sink_worker, start_smtp_sink, two_kb_message
from mailcard.db.engine import create_db_engine
from mailcard.db.migrate import upgrade
from mailcard.outbox import NewMessage
from mailcard.outbox.sql import SqlOutboxStore

COUNT = 2000 if QUICK else 10000
CONNECTIONS = 8


def main() -> None:
    reference = reference_rate(messages=COUNT, sessions=CONNECTIONS)
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_db_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        store = SqlOutboxStore(engine)
        now = datetime.now(UTC)
        for start in range(0, COUNT, 1000):
            store.enqueue_many(
                [
                    NewMessage(
                        "shop@example.com", (f"customer{n}@example.com",), two_kb_message(n), f"<{n}@bench>"
                    )
                    for n in range(start, min(COUNT, start + 1000))
                ],
                now=now,
            )
        sink = start_smtp_sink()
        try:
            worker = sink_worker(store, sink.port, CONNECTIONS)

            async def deliver() -> float:
                stop = asyncio.Event()
                started = time.perf_counter()
                running = asyncio.create_task(worker.run(stop))
                # The worker's own counter: asking the database here would compete with the worker.
                while worker.sent + worker.failed < COUNT:  # noqa: ASYNC110 - polling a counter
                    await asyncio.sleep(0.01)
                stop.set()
                await running  # the last outcomes are written back before the clock stops
                elapsed = time.perf_counter() - started
                await worker.aclose()
                return elapsed

            elapsed = asyncio.run(deliver())
        finally:
            sink.stop()
        engine.dispose()
    emit(
        "delivery",
        COUNT / elapsed,
        reference,
        messages=COUNT,
        message_size=2048,
        connections=CONNECTIONS,
        target_ratio=0.5,
    )


if __name__ == "__main__":
    main()
