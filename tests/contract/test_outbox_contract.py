"""One outbox contract, three implementations: in-memory (the fake), SQLite and PostgreSQL (real servers)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mailcard.db.engine import create_db_engine
from mailcard.db.migrate import upgrade
from mailcard.digests import json_digest
from mailcard.errors import ConflictError, InputError, NotFoundError
from mailcard.outbox import Attempt, MessageStatus, NewMessage, OutboxStore, Settlement
from mailcard.outbox.memory import InMemoryOutboxStore
from mailcard.outbox.sql import SqlOutboxStore

if TYPE_CHECKING:
    from tests.support.postgres import PostgresCluster

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OutboxStore]:
    if request.param == "memory":
        yield InMemoryOutboxStore()
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'outbox.db'}"
    else:
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        url = cluster.fresh_database()
    engine = create_db_engine(url)
    upgrade(engine)
    yield SqlOutboxStore(engine)
    engine.dispose()


def message(n: int = 0, *, key: str | None = None, to: str = "anna@example.com") -> NewMessage:
    return NewMessage(
        envelope_from="shop@example.com",
        envelope_to=(to,),
        data=f"Subject: hello {n}\r\n\r\nbody {n}\r\n".encode(),
        message_id=f"<{n}@example.com>",
        subject=f"hello {n}",
        idempotency_key=key,
        customer_id="c-1",
    )


def attempt(message_id: str, number: int, outcome: str, **kw: object) -> Attempt:
    return Attempt(
        message_id=message_id,
        number=number,
        worker="w1",
        started_at=T0,
        finished_at=T0,
        outcome=outcome,
        **kw,  # type: ignore[arg-type]
    )


def test_enqueued_message_is_stored_with_its_exact_bytes(store: OutboxStore) -> None:
    result = store.enqueue(message(1), now=T0)
    assert result.created
    stored = store.get(result.message.id, with_data=True)
    assert stored is not None
    assert stored.status == MessageStatus.QUEUED
    assert stored.data == b"Subject: hello 1\r\n\r\nbody 1\r\n"
    assert stored.envelope_to == ("anna@example.com",)


def test_same_idempotency_key_returns_the_existing_message(store: OutboxStore) -> None:
    first = store.enqueue(message(1, key="order-42"), now=T0)
    again = store.enqueue(message(2, key="order-42"), now=T0)
    assert not again.created
    assert again.message.id == first.message.id
    assert again.message.subject == "hello 1"
    ids = store.enqueue_many([message(3, key="order-42"), message(4, key="order-43")], now=T0)
    assert ids[0] == first.message.id
    assert ids[1] != first.message.id
    assert store.counts()["queued"] == 2
    # Each stored message keeps its own bytes; the skipped duplicate's went nowhere.
    kept, added = store.get(ids[0], with_data=True), store.get(ids[1], with_data=True)
    assert kept is not None and kept.data == message(1).data
    assert added is not None and added.data == message(4).data


def test_a_key_used_again_for_a_different_request_is_refused(store: OutboxStore) -> None:
    asked = json_digest({"to": "anna@example.com", "subject": "Your order"})
    first = store.enqueue(replace(message(1, key="card-1"), request_fingerprint=asked), now=T0)
    # The same request again (its bytes differ: a new Message-ID and Date) returns the first message.
    again = store.enqueue(replace(message(2, key="card-1"), request_fingerprint=asked), now=T0)
    assert not again.created and again.message.id == first.message.id
    other = json_digest({"to": "anna@example.com", "subject": "Your refund"})
    with pytest.raises(InputError) as refused:
        store.enqueue(replace(message(3, key="card-1"), request_fingerprint=other), now=T0)
    assert refused.value.code == "idempotency_key_reused"
    assert refused.value.http_status == 422
    assert refused.value.details["message_id"] == first.message.id
    # Nothing of the refused request was stored, and the first message is untouched.
    assert store.counts()["queued"] == 1
    kept = store.get(first.message.id, with_data=True)
    assert kept is not None and kept.data == message(1).data
    # A side without a fingerprint is not compared (rows stored before fingerprints, flow runs).
    assert store.enqueue(message(4, key="card-1"), now=T0).message.id == first.message.id
    unchecked = store.enqueue(message(5, key="flow-1"), now=T0)
    later = store.enqueue(replace(message(6, key="flow-1"), request_fingerprint=other), now=T0)
    assert later.message.id == unchecked.message.id and not later.created


def test_claim_leases_each_message_to_one_worker(store: OutboxStore) -> None:
    ids = store.enqueue_many([message(n) for n in range(5)], now=T0)
    first = store.claim("w1", limit=3, lease_seconds=60, now=T0)
    second = store.claim("w2", limit=10, lease_seconds=60, now=T0)
    assert len(first) == 3 and len(second) == 2
    assert {m.id for m in first} | {m.id for m in second} == set(ids)
    assert not {m.id for m in first} & {m.id for m in second}
    assert store.claim("w3", limit=10, lease_seconds=60, now=T0) == []
    assert all(m.attempt_number == 1 for m in first)


def test_expired_lease_is_claimed_again(store: OutboxStore) -> None:
    store.enqueue(message(1), now=T0)
    [claimed] = store.claim("w1", limit=10, lease_seconds=30, now=T0)
    assert store.claim("w2", limit=10, lease_seconds=30, now=T0 + timedelta(seconds=29)) == []
    [again] = store.claim("w2", limit=10, lease_seconds=30, now=T0 + timedelta(seconds=31))
    assert again.id == claimed.id
    # The first worker lost its lease: its late verdict must not overwrite the new owner's.
    held = store.settle("w1", [Settlement(attempt(claimed.id, 1, "sent"), MessageStatus.SENT)], now=T0)
    assert held == 0
    current = store.get(claimed.id)
    assert current is not None and current.status == MessageStatus.SENDING and current.lease_owner == "w2"


def test_renewed_lease_is_not_taken(store: OutboxStore) -> None:
    store.enqueue(message(1), now=T0)
    [claimed] = store.claim("w1", limit=10, lease_seconds=30, now=T0)
    store.renew("w1", [claimed.id], lease_seconds=30, now=T0 + timedelta(seconds=20))
    assert store.claim("w2", limit=10, lease_seconds=30, now=T0 + timedelta(seconds=40)) == []


def test_sent_is_final_and_keeps_the_servers_evidence(store: OutboxStore) -> None:
    store.enqueue(message(1), now=T0)
    [claimed] = store.claim("w1", limit=10, lease_seconds=60, now=T0)
    evidence = attempt(claimed.id, 1, "sent", smtp_code=250, server_text="2.0.0 Ok: queued as 4XyZ")
    assert store.settle("w1", [Settlement(evidence, MessageStatus.SENT)], now=T0) == 1
    sent = store.get(claimed.id)
    assert sent is not None and sent.status == MessageStatus.SENT and sent.settled_at is not None
    [recorded] = store.attempts(claimed.id)
    assert recorded.smtp_code == 250 and recorded.server_text == "2.0.0 Ok: queued as 4XyZ"
    assert store.claim("w1", limit=10, lease_seconds=60, now=T0 + timedelta(days=1)) == []


def test_settle_and_claim_records_outcomes_and_leases_the_next_in_one_call(store: OutboxStore) -> None:
    first, second = store.enqueue(message(1), now=T0).message, store.enqueue(message(2), now=T0).message
    [claimed] = store.claim("w1", limit=1, lease_seconds=60, now=T0)
    assert claimed.id == first.id
    evidence = attempt(first.id, 1, "sent", smtp_code=250, server_text="2.0.0 Ok: queued as 4XyZ")
    held, [following] = store.settle_and_claim(
        "w1", [Settlement(evidence, MessageStatus.SENT)], limit=10, lease_seconds=60, now=T0
    )
    assert held == 1 and following.id == second.id
    sent = store.get(first.id)
    assert sent is not None and sent.status == MessageStatus.SENT
    assert [a.server_text for a in store.attempts(first.id)] == ["2.0.0 Ok: queued as 4XyZ"]
    # Nothing left to claim: the outcomes in hand are still written.
    last = attempt(second.id, 1, "permanent", smtp_code=550, server_text="5.1.1 no such user")
    held, none = store.settle_and_claim(
        "w1",
        [Settlement(last, MessageStatus.FAILED, error="no such user")],
        limit=10,
        lease_seconds=60,
        now=T0,
    )
    assert (held, none) == (1, [])
    failed = store.get(second.id)
    assert failed is not None and failed.status == MessageStatus.FAILED and failed.last_smtp_code == 550


def test_settle_and_claim_is_fenced_like_settle(store: OutboxStore) -> None:
    store.enqueue(message(1), now=T0)
    [claimed] = store.claim("w1", limit=10, lease_seconds=30, now=T0)
    later = T0 + timedelta(seconds=31)
    [taken] = store.claim("w2", limit=10, lease_seconds=30, now=later)
    late = Settlement(attempt(claimed.id, 1, "sent"), MessageStatus.SENT)
    assert store.settle_and_claim("w1", [late], limit=10, lease_seconds=30, now=later) == (0, [])
    current = store.get(taken.id)
    assert current is not None and current.status == MessageStatus.SENDING and current.lease_owner == "w2"


def test_retry_waits_until_its_time_then_counts_attempts(store: OutboxStore) -> None:
    store.enqueue(message(1), now=T0)
    [claimed] = store.claim("w1", limit=10, lease_seconds=60, now=T0)
    later = T0 + timedelta(minutes=5)
    failure = attempt(claimed.id, 1, "transient", reason="recipient_rejected", smtp_code=450)
    store.settle(
        "w1", [Settlement(failure, MessageStatus.RETRY, next_attempt_at=later, error="try later")], now=T0
    )
    waiting = store.get(claimed.id)
    assert waiting is not None and waiting.status == MessageStatus.RETRY
    assert waiting.last_reason == "recipient_rejected" and waiting.last_smtp_code == 450
    assert store.claim("w1", limit=10, lease_seconds=60, now=later - timedelta(seconds=1)) == []
    [second] = store.claim("w1", limit=10, lease_seconds=60, now=later)
    assert second.attempt_number == 2


def test_failed_message_can_be_requeued_but_sent_cannot(store: OutboxStore) -> None:
    ids = store.enqueue_many([message(1), message(2)], now=T0)
    claimed = store.claim("w1", limit=10, lease_seconds=60, now=T0)
    by_id = {m.id: m for m in claimed}
    store.settle(
        "w1",
        [
            Settlement(
                attempt(ids[0], 1, "permanent", reason="recipient_rejected", smtp_code=550),
                MessageStatus.FAILED,
            ),
            Settlement(attempt(ids[1], 1, "sent", smtp_code=250), MessageStatus.SENT),
        ],
        now=T0,
    )
    assert set(by_id) == set(ids)
    requeued = store.requeue(ids[0], now=T0)
    assert requeued.status == MessageStatus.QUEUED
    with pytest.raises(ConflictError):
        store.requeue(ids[1], now=T0)
    with pytest.raises(NotFoundError):
        store.requeue("no-such-message", now=T0)


def test_cancel_only_before_sending(store: OutboxStore) -> None:
    ids = store.enqueue_many([message(1), message(2)], now=T0)
    assert store.cancel(ids[0], now=T0).status == MessageStatus.CANCELLED
    [claimed] = store.claim("w1", limit=10, lease_seconds=60, now=T0)
    assert claimed.id == ids[1]
    with pytest.raises(ConflictError):
        store.cancel(ids[1], now=T0)


def test_cancel_waiting_stops_what_waits_and_leaves_the_rest(store: OutboxStore) -> None:
    ids = store.enqueue_many([message(n) for n in range(4)], now=T0)
    [claimed] = store.claim("w1", limit=1, lease_seconds=60, now=T0)  # being sent: not cancellable
    assert store.cancel_waiting([*ids, "no-such-message"], now=T0) == 3
    statuses = {i: store.get(i).status for i in ids}  # type: ignore[union-attr]
    assert statuses[claimed.id] == MessageStatus.SENDING
    assert sorted(s for i, s in statuses.items() if i != claimed.id) == [MessageStatus.CANCELLED] * 3
    assert store.claim("w2", limit=10, lease_seconds=60, now=T0) == []
    assert store.cancel_waiting(ids, now=T0) == 0


def test_release_returns_a_message_untouched(store: OutboxStore) -> None:
    store.enqueue(message(1), now=T0)
    [claimed] = store.claim("w1", limit=10, lease_seconds=60, now=T0)
    store.release("w1", [claimed.id], now=T0, not_before=T0 + timedelta(minutes=1), error="account missing")
    released = store.get(claimed.id)
    assert released is not None
    assert released.status == MessageStatus.QUEUED and released.attempt_count == 0
    assert released.last_error == "account missing"
    assert store.claim("w1", limit=10, lease_seconds=60, now=T0) == []


def test_list_pages_newest_first_and_filters(store: OutboxStore) -> None:
    ids = store.enqueue_many([message(n) for n in range(5)], now=T0)
    store.enqueue(NewMessage("a@x.com", ("b@y.com",), b"x", "<x@y>", customer_id="c-2"), now=T0)
    page = store.list(customer_id="c-1", limit=3)
    assert [m.id for m in page] == list(reversed(ids))[:3]
    rest = store.list(customer_id="c-1", limit=3, before_id=page[-1].id)
    assert [m.id for m in rest] == list(reversed(ids))[3:]
    assert len(store.list(status=MessageStatus.QUEUED, limit=100)) == 6


def test_a_message_keeps_its_own_retry_policy_through_claim(store: OutboxStore) -> None:
    own = NewMessage(
        envelope_from="shop@example.com",
        envelope_to=("anna@example.com",),
        data=b"Subject: x\r\n\r\nx\r\n",
        message_id="<own@example.com>",
        retry_max_attempts=2,
        retry_base_seconds=0.5,
    )
    [stored_id] = store.enqueue_many([own], now=T0)
    single = store.enqueue(replace(own, message_id="<own2@example.com>"), now=T0).message.id
    plain = store.enqueue(message(3), now=T0).message.id
    claimed = {c.id: c for c in store.claim("w1", limit=10, lease_seconds=60, now=T0)}
    assert (claimed[stored_id].retry_max_attempts, claimed[stored_id].retry_base_seconds) == (2, 0.5)
    assert (claimed[single].retry_max_attempts, claimed[single].retry_base_seconds) == (2, 0.5)
    assert (claimed[plain].retry_max_attempts, claimed[plain].retry_base_seconds) == (None, None)
