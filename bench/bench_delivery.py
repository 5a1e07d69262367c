"""Scenario ``delivery``: outbox (SQLite, durable) → worker → smtp-sink, 2 KB messages.

Measures the time from "messages are queued" to "every message is marked sent in the outbox",
beside smtp-source → smtp-sink in the same run. Worker processes (two by default, one per core;
``MAILCARD_BENCH_WORKERS``) share the outbox through leases, as ``mailcard worker`` processes do.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import QUICK, WorkerProcesses, cpu_seconds, emit, reference_rate, start_smtp_sink, two_kb_message
from mailcard.db.engine import create_db_engine
from mailcard.db.migrate import upgrade
from mailcard.outbox import NewMessage
from mailcard.outbox.sql import SqlOutboxStore

COUNT = 2000 if QUICK else 10000
CONNECTIONS = 8
WORKERS = int(os.environ.get("MAILCARD_BENCH_WORKERS", "2"))


def main() -> None:
    reference = reference_rate(messages=COUNT, sessions=CONNECTIONS)
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = create_db_engine(db_url)
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
        # Each process gets its share of the connections, so the total matches smtp-source's sessions.
        workers = WorkerProcesses(db_url, sink.port, processes=WORKERS, connections=CONNECTIONS // WORKERS)
        try:
            workers.start()  # connected to nothing yet, waiting to begin
            sink_cpu = cpu_seconds(sink.proc.pid)
            started = time.perf_counter()
            workers.begin()
            workers.wait_until_settled(COUNT)
            workers.stop()  # returns once the last outcomes are in the outbox
            elapsed = time.perf_counter() - started
            sink_cpu = cpu_seconds(sink.proc.pid) - sink_cpu
        finally:
            workers.join()
            sink.stop()
        counts = store.counts()
        assert counts["sent"] == COUNT, counts
        engine.dispose()
    emit(
        "delivery",
        COUNT / elapsed,
        reference,
        messages=COUNT,
        message_size=2048,
        connections=CONNECTIONS,
        worker_processes=WORKERS,
        cpu_us_per_msg={
            "deliver": round(workers.cpu_seconds() / COUNT * 1e6),
            "smtp_sink": round(sink_cpu / COUNT * 1e6),
        },
        target_ratio=0.5,
    )


if __name__ == "__main__":
    main()
