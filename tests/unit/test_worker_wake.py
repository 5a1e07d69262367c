"""Mail queued in the worker's own process goes out at once, not at the worker's next poll.

``mailcard run`` subscribes its worker to the outbox's enqueue signal; here the same wiring over a
real SQLite outbox with a poll interval of a minute: delivery within a second can only be the wake-up.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from mailcard.db.engine import create_db_engine
from mailcard.db.migrate import upgrade
from mailcard.delivery.accounts import ResolvedAccount, StaticAccountResolver
from mailcard.delivery.fake import RecordingTransport
from mailcard.delivery.settings import SmtpSettings
from mailcard.delivery.worker import DeliveryWorker, WorkerOptions
from mailcard.outbox import MessageStatus, NewMessage
from mailcard.outbox.sql import SqlOutboxStore

ACCOUNT = ResolvedAccount(
    key="test", settings=SmtpSettings("127.0.0.1", 2525, "none", username=None, password=None)
)
POLL_SECONDS = 60.0


def test_an_enqueue_in_this_process_wakes_the_idle_worker(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    upgrade(engine)
    store = SqlOutboxStore(engine)
    transport = RecordingTransport()
    worker = DeliveryWorker(
        store,
        transport,
        StaticAccountResolver(ACCOUNT),
        options=WorkerOptions(poll_seconds=POLL_SECONDS, flush_seconds=0.01),
    )
    unsubscribe = store.on_enqueue(worker.wake)

    async def scenario() -> float:
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        await asyncio.sleep(0.2)  # the worker found nothing and is waiting out its poll
        started = time.monotonic()
        # Enqueued from another thread, as an API request handler does.
        message = NewMessage("shop@example.com", ("anna@example.com",), b"Subject: hi\r\n\r\nhi\r\n", "<1@x>")
        await asyncio.to_thread(lambda: store.enqueue(message, now=_now()))
        while not transport.sends:
            assert time.monotonic() - started < 5, "not woken"
            await asyncio.sleep(0.005)
        elapsed = time.monotonic() - started
        stop.set()
        await running
        await worker.aclose()
        return elapsed

    try:
        elapsed = asyncio.run(scenario())
    finally:
        unsubscribe()
        engine.dispose()
    assert elapsed < 1.0
    assert store.counts().get(MessageStatus.SENT.value) == 1


def test_a_listener_that_fails_does_not_fail_the_enqueue(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    upgrade(engine)
    store = SqlOutboxStore(engine)

    def broken() -> None:
        raise RuntimeError("listener bug")

    store.on_enqueue(broken)
    calls: list[int] = []
    unsubscribe = store.on_enqueue(lambda: calls.append(1))
    message = NewMessage("shop@example.com", ("anna@example.com",), b"Subject: hi\r\n\r\nhi\r\n", "<2@x>")
    assert store.enqueue(message, now=_now()).created
    store.enqueue_many([replace(message, message_id="<3@x>")], now=_now())
    unsubscribe()
    store.enqueue_many([replace(message, message_id="<4@x>")], now=_now())
    assert calls == [1, 1]
    engine.dispose()


def _now() -> datetime:
    return datetime.now(UTC)
