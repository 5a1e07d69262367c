"""Real worker processes killed with SIGKILL at random moments: nothing is lost, duplicates stay bounded.

Thousands of messages go to a counting sink through `mailcard worker` processes. After each kill we
count the messages the dead worker held (status ``sending``): those are the only ones that may arrive
twice. At the end every message has arrived, and nothing is left ``sending``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select
from tests.support.counting_sink import CountingSink
from tests.support.postfix_tools import wait_for

from mailcard.db.engine import create_db_engine
from mailcard.db.migrate import upgrade
from mailcard.db.schema import delivery_attempts, outbox_messages
from mailcard.outbox import NewMessage
from mailcard.outbox.sql import SqlOutboxStore

if TYPE_CHECKING:
    from tests.support.postgres import PostgresCluster

MAILCARD = str(Path(sys.executable).with_name("mailcard"))
pytestmark = pytest.mark.slow
BODY = b"x" * 75 + b"\r\n"  # about 1.5 KB in lines SMTP accepts
BODY *= 20


@pytest.fixture
def sink() -> Iterator[CountingSink]:
    counting = CountingSink()
    counting.start()
    yield counting
    counting.stop()


def enqueue(url: str, count: int) -> list[str]:
    engine = create_db_engine(url)
    upgrade(engine)
    store = SqlOutboxStore(engine)
    messages = [
        NewMessage(
            envelope_from="shop@example.com",
            envelope_to=(f"customer{n}@example.com",),
            data=f"Message-ID: <{n}@crash.test>\r\nSubject: order {n}\r\n\r\n".encode() + BODY,
            message_id=f"<{n}@crash.test>",
        )
        for n in range(count)
    ]
    ids: list[str] = []
    for start in range(0, count, 500):
        ids += store.enqueue_many(messages[start : start + 500], now=datetime.now(UTC))
    engine.dispose()
    return ids


def start_worker(tmp_path: Path, url: str, sink_port: int, name: str) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "MAILCARD_DATA_DIR": str(tmp_path / "var"),
        "MAILCARD_DATABASE_URL": url,
        "MAILCARD_SMTP_URL": f"smtp://127.0.0.1:{sink_port}",
        "MAILCARD_LEASE_SECONDS": "2",
        "MAILCARD_WORKER_POLL_SECONDS": "0.05",
        "MAILCARD_WORKER_CONCURRENCY": "16",
        "MAILCARD_LOG_LEVEL": "WARNING",
    }
    log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([MAILCARD, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)


def status_counts(url: str) -> dict[str, int]:
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(outbox_messages.c.status, func.count()).group_by(outbox_messages.c.status)
            ).all()
        return {status: n for status, n in rows}
    finally:
        engine.dispose()


def test_sigkilled_workers_lose_nothing_and_duplicate_only_in_flight(
    tmp_path: Path, sink: CountingSink
) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    total = 3000
    enqueue(url, total)
    rng = random.Random(20261121)
    in_flight_at_kills = 0
    kills = 0
    for round_number in range(6):
        worker = start_worker(tmp_path, url, sink.port, f"worker-{round_number}")
        # Kill only once the worker is really sending, at a random moment after that.
        wait_for(lambda: sum(sink.snapshot().values()) > 0, 30, "first delivery", proc=worker)
        time.sleep(rng.uniform(0.05, 0.6))
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        kills += 1
        in_flight_at_kills += status_counts(url).get("sending", 0)
        if status_counts(url).get("sent", 0) >= total:
            break
    survivor = start_worker(tmp_path, url, sink.port, "survivor")
    try:
        wait_for(
            lambda: status_counts(url).get("sent", 0) == total,
            120,
            "all messages sent",
            interval=0.2,
            proc=survivor,
        )
    finally:
        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(timeout=30) == 0, "a worker stops cleanly on SIGTERM"

    deliveries = sink.snapshot()
    counts = status_counts(url)
    assert kills >= 1
    assert len(deliveries) == total, "every message arrived"
    assert set(deliveries) == {f"<{n}@crash.test>" for n in range(total)}
    duplicates = sum(deliveries.values()) - total
    assert duplicates <= in_flight_at_kills, (duplicates, in_flight_at_kills)
    assert counts.get("sending", 0) == 0 and counts.get("sent") == total


def test_two_workers_on_postgresql_never_send_the_same_message_twice(
    tmp_path: Path, sink: CountingSink, postgres: PostgresCluster
) -> None:
    url = postgres.fresh_database()
    total = 1500
    enqueue(url, total)
    workers = [start_worker(tmp_path, url, sink.port, f"pg-worker-{n}") for n in range(2)]
    try:
        wait_for(lambda: status_counts(url).get("sent", 0) == total, 120, "all messages sent", interval=0.2)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            assert worker.wait(timeout=30) == 0
    deliveries = sink.snapshot()
    assert len(deliveries) == total
    assert max(deliveries.values()) == 1, "no message was sent twice"
    engine = create_db_engine(url)
    with engine.connect() as conn:
        per_worker = conn.execute(
            select(delivery_attempts.c.worker, func.count()).group_by(delivery_attempts.c.worker)
        ).all()
    engine.dispose()
    assert len(per_worker) == 2, f"both workers delivered: {per_worker}"
