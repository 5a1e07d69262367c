"""The delivery worker with a recording transport and the in-memory outbox: outcomes people see."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

from mailcard.delivery.accounts import AccountLimits, ResolvedAccount, StaticAccountResolver
from mailcard.delivery.fake import RecordingTransport
from mailcard.delivery.settings import SmtpSettings
from mailcard.delivery.worker import DeliveryWorker, WorkerOptions
from mailcard.errors import ConfigurationError
from mailcard.outbox import MessageStatus, NewMessage, RetryPolicy
from mailcard.outbox.memory import InMemoryOutboxStore

ACCOUNT = ResolvedAccount(
    key="test",
    settings=SmtpSettings(host="127.0.0.1", port=2525, security="none", username=None, password=None),
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def enqueue(
    store: InMemoryOutboxStore, clock: Clock, count: int = 1, to: str = "anna@example.com"
) -> list[str]:
    return store.enqueue_many(
        [
            NewMessage("shop@example.com", (to,), f"Subject: {n}\r\n\r\nhi\r\n".encode(), f"<{n}@x>")
            for n in range(count)
        ],
        now=clock(),
    )


def make_worker(
    store: InMemoryOutboxStore,
    transport: RecordingTransport,
    clock: Clock,
    *,
    policy: RetryPolicy = RetryPolicy(max_attempts=3, base_delay_seconds=60, jitter=0),
    account: ResolvedAccount = ACCOUNT,
) -> DeliveryWorker:
    return DeliveryWorker(
        store,
        transport,
        StaticAccountResolver(account),
        policy=policy,
        options=WorkerOptions(concurrency=4, batch_size=8, poll_seconds=0.01, flush_seconds=0.01),
        worker_id="w-test",
        clock=clock,
    )


def test_every_message_is_sent_once_with_its_exact_bytes() -> None:
    store, transport, clock = InMemoryOutboxStore(), RecordingTransport(), Clock()
    ids = enqueue(store, clock, 20)
    asyncio.run(make_worker(store, transport, clock).run_once(ids))
    assert len(transport.delivered) == 20
    assert sorted(s.data for s in transport.sends) == sorted(
        f"Subject: {n}\r\n\r\nhi\r\n".encode() for n in range(20)
    )
    assert store.counts()["sent"] == 20
    [attempt] = store.attempts(ids[0])
    assert attempt.outcome == "sent" and attempt.smtp_code == 250


def test_transient_failure_is_retried_later_then_sent() -> None:
    store, transport, clock = InMemoryOutboxStore(), RecordingTransport(), Clock()
    [message_id] = enqueue(store, clock)
    transport.fail_next("server_unavailable")
    worker = make_worker(store, transport, clock)
    asyncio.run(worker.run_once([message_id]))
    waiting = store.get(message_id)
    assert waiting is not None and waiting.status == MessageStatus.RETRY
    assert waiting.last_reason == "server_unavailable"
    assert waiting.next_attempt_at == clock.now + timedelta(seconds=60)
    clock.now += timedelta(seconds=61)
    asyncio.run(make_worker(store, transport, clock).run_once([message_id]))
    sent = store.get(message_id)
    assert sent is not None and sent.status == MessageStatus.SENT
    assert [a.outcome for a in store.attempts(message_id)] == ["transient", "sent"]


def test_permanent_failure_fails_at_once_and_is_never_retried() -> None:
    store, transport, clock = InMemoryOutboxStore(), RecordingTransport(), Clock()
    [message_id] = enqueue(store, clock, to="nobody@example.com")
    transport.refuse("nobody@example.com", 550, "5.1.1 <nobody@example.com>: Recipient address rejected")
    asyncio.run(make_worker(store, transport, clock).run_once([message_id]))
    failed = store.get(message_id)
    assert failed is not None and failed.status == MessageStatus.FAILED
    assert failed.last_reason == "recipient_rejected" and failed.last_smtp_code == 550
    assert "Recipient address rejected" in (failed.last_error or "")
    clock.now += timedelta(days=2)
    asyncio.run(make_worker(store, transport, clock).run_once([message_id]))
    assert len(transport.sends) == 1


def test_transient_failures_give_up_after_the_attempt_budget() -> None:
    store, transport, clock = InMemoryOutboxStore(), RecordingTransport(), Clock()
    [message_id] = enqueue(store, clock)
    transport.fail_next("timeout", times=10)
    for _ in range(5):
        asyncio.run(make_worker(store, transport, clock).run_once([message_id]))
        clock.now += timedelta(hours=1)
    final = store.get(message_id)
    assert final is not None and final.status == MessageStatus.FAILED
    assert len(transport.sends) == 3
    assert "gave up" in (final.last_error or "")


def test_a_message_with_its_own_retry_policy_is_retried_on_its_schedule() -> None:
    store, transport, clock = InMemoryOutboxStore(), RecordingTransport(), Clock()
    message = NewMessage(
        "shop@example.com", ("anna@example.com",), b"Subject: 1\r\n\r\nhi\r\n", "<own@x>",
        retry_max_attempts=2, retry_base_seconds=5,
    )  # fmt: skip
    message_id = store.enqueue(message, now=clock()).message.id
    transport.fail_next("timeout", times=10)
    asyncio.run(make_worker(store, transport, clock).run_once([message_id]))
    waiting = store.get(message_id)
    assert waiting is not None and waiting.next_attempt_at == clock.now + timedelta(seconds=5)
    clock.now += timedelta(seconds=6)
    asyncio.run(make_worker(store, transport, clock).run_once([message_id]))
    final = store.get(message_id)
    assert final is not None and final.status == MessageStatus.FAILED, "two attempts, not the worker's three"
    assert len(transport.sends) == 2


def test_partial_refusal_is_sent_with_the_refusal_recorded() -> None:
    store, transport, clock = InMemoryOutboxStore(), RecordingTransport(), Clock()
    [message_id] = store.enqueue_many(
        [NewMessage("shop@example.com", ("a@example.com", "b@example.com"), b"x", "<1@x>")], now=clock()
    )
    transport.refuse("b@example.com")
    asyncio.run(make_worker(store, transport, clock).run_once([message_id]))
    message = store.get(message_id)
    assert message is not None and message.status == MessageStatus.SENT
    [attempt] = store.attempts(message_id)
    assert attempt.refused is not None and attempt.refused["b@example.com"][0] == 550


def test_broken_account_setup_keeps_the_message_waiting_without_using_attempts() -> None:
    class BrokenResolver:
        def resolve(self, account_id: int | None) -> ResolvedAccount:
            raise ConfigurationError("A stored secret cannot be decrypted.", code="secret_key_mismatch")

    store, transport, clock = InMemoryOutboxStore(), RecordingTransport(), Clock()
    [message_id] = enqueue(store, clock)
    worker = DeliveryWorker(
        store, transport, BrokenResolver(), options=WorkerOptions(poll_seconds=0.01), clock=clock
    )
    asyncio.run(worker.run_once([message_id]))
    message = store.get(message_id)
    assert message is not None and message.status == MessageStatus.QUEUED
    assert message.attempt_count == 0 and "cannot be decrypted" in (message.last_error or "")
    assert transport.sends == []


def test_account_rate_limit_spaces_messages() -> None:
    store, clock = InMemoryOutboxStore(), Clock()
    ids = enqueue(store, clock, 3)
    limited = ResolvedAccount(key="slow", settings=ACCOUNT.settings, limits=AccountLimits(per_second=20))
    loop_times: list[float] = []

    class TimingTransport(RecordingTransport):
        async def send(self, settings, envelope, data):  # type: ignore[no-untyped-def]
            loop_times.append(asyncio.get_running_loop().time())
            return await super().send(settings, envelope, data)

    timing = TimingTransport()
    asyncio.run(make_worker(store, timing, clock, account=limited).run_once(ids))
    assert len(timing.delivered) == 3
    gaps = [b - a for a, b in itertools.pairwise(loop_times)]
    assert all(gap >= 0.04 for gap in gaps), gaps  # 20/s: one message every 50 ms after the first


def test_graceful_stop_finishes_in_flight_messages() -> None:
    store, clock = InMemoryOutboxStore(), Clock()
    ids = enqueue(store, clock, 4)
    started = asyncio.Event()

    class SlowTransport(RecordingTransport):
        async def send(self, settings, envelope, data):  # type: ignore[no-untyped-def]
            started.set()
            await asyncio.sleep(0.2)
            return await super().send(settings, envelope, data)

    transport = SlowTransport()

    async def scenario() -> None:
        stop = asyncio.Event()
        worker = make_worker(store, transport, clock)
        running = asyncio.create_task(worker.run(stop))
        await started.wait()
        stop.set()
        await running

    asyncio.run(scenario())
    counts = store.counts()
    assert counts["sending"] == 0
    assert counts["sent"] == len(transport.delivered) >= 1
    assert counts["sent"] + counts["queued"] == len(ids)


def test_a_failed_claim_neither_stops_the_worker_nor_sends_anything_twice() -> None:
    """A busy worker records what it sent in the transaction that claims its next messages. When
    that transaction fails (the database locked for too long), the worker keeps the outcomes, tries
    again, and every message ends sent exactly once with one attempt."""

    class FailingOnceStore(InMemoryOutboxStore):
        failed = False

        def settle_and_claim(self, worker, settlements, **kwargs):  # type: ignore[no-untyped-def]
            if settlements and not self.failed:
                self.failed = True
                raise OSError("database is locked")
            return super().settle_and_claim(worker, settlements, **kwargs)

    store, transport, clock = FailingOnceStore(), RecordingTransport(), Clock()
    ids = enqueue(store, clock, 20)

    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(make_worker(store, transport, clock).run(stop))
        for _ in range(500):
            if store.counts()["sent"] == 20:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await running

    asyncio.run(scenario())
    assert store.failed
    assert store.counts()["sent"] == 20
    assert sorted(s.data for s in transport.delivered) == sorted(
        f"Subject: {n}\r\n\r\nhi\r\n".encode() for n in range(20)
    )
    assert all(len(store.attempts(message_id)) == 1 for message_id in ids)
