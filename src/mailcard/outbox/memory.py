"""An in-memory outbox with the same contract as the SQL one: a fake for fast unit tests.

Not durable and not shared between processes; never used by the service itself.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from mailcard.outbox.model import (
    Attempt,
    ClaimedMessage,
    EnqueueResult,
    MessageStatus,
    NewMessage,
    OutboxMessage,
    Settlement,
    check_cancel,
    check_requeue,
    check_same_request,
    message_not_found,
    new_message_id,
)

_WAITING = (MessageStatus.QUEUED, MessageStatus.RETRY)


class InMemoryOutboxStore:
    def __init__(self) -> None:
        self._lock = threading.RLock()  # settle_and_claim holds it across settle and claim
        self._messages: dict[str, OutboxMessage] = {}
        self._by_key: dict[str, str] = {}
        self._fingerprints: dict[str, str | None] = {}  # by message id
        self._attempts: dict[str, list[Attempt]] = {}

    def enqueue(self, message: NewMessage, *, now: datetime) -> EnqueueResult:
        with self._lock:
            known = self._by_key.get(message.idempotency_key or "")
            if known is not None:
                check_same_request(self._fingerprints[known], message.request_fingerprint, known)
                return EnqueueResult(message=self._without_data(known), created=False)
            stored = self._store(message, now)
        return EnqueueResult(message=replace(stored, data=None), created=True)

    def enqueue_many(self, messages: Sequence[NewMessage], *, now: datetime) -> list[str]:
        with self._lock:
            ids = []
            for message in messages:
                known = self._by_key.get(message.idempotency_key or "")
                ids.append(known if known is not None else self._store(message, now).id)
            return ids

    def _store(self, message: NewMessage, now: datetime) -> OutboxMessage:
        stored = OutboxMessage(
            id=new_message_id(),
            status=MessageStatus.QUEUED,
            idempotency_key=message.idempotency_key,
            smtp_account_id=message.smtp_account_id,
            envelope_from=message.envelope_from,
            envelope_to=tuple(message.envelope_to),
            smtputf8=message.smtputf8,
            message_id=message.message_id,
            subject=message.subject,
            customer_id=message.customer_id,
            flow_run_id=message.flow_run_id,
            attempt_count=0,
            next_attempt_at=message.not_before or now,
            lease_owner=None,
            lease_expires_at=None,
            last_reason=None,
            last_smtp_code=None,
            last_enhanced_code=None,
            last_error=None,
            created_at=now,
            updated_at=now,
            settled_at=None,
            data=message.data,
            retry_max_attempts=message.retry_max_attempts,
            retry_base_seconds=message.retry_base_seconds,
        )
        self._messages[stored.id] = stored
        self._fingerprints[stored.id] = message.request_fingerprint
        if message.idempotency_key is not None:
            self._by_key[message.idempotency_key] = stored.id
        return stored

    def claim(
        self,
        worker: str,
        *,
        limit: int,
        lease_seconds: float,
        now: datetime,
        ids: Sequence[str] | None = None,
    ) -> list[ClaimedMessage]:
        wanted = set(ids) if ids is not None else None
        with self._lock:
            due = [
                m
                for m in self._messages.values()
                if (wanted is None or m.id in wanted)
                and (
                    (m.status in _WAITING and m.next_attempt_at <= now)
                    or (
                        m.status == MessageStatus.SENDING
                        and m.lease_expires_at is not None
                        and m.lease_expires_at < now
                    )
                )
            ]
            due.sort(key=lambda m: m.next_attempt_at)
            claimed = []
            for m in due[:limit]:
                leased = replace(
                    m,
                    status=MessageStatus.SENDING,
                    lease_owner=worker,
                    lease_expires_at=now + timedelta(seconds=lease_seconds),
                    updated_at=now,
                )
                self._messages[m.id] = leased
                assert m.data is not None
                claimed.append(
                    ClaimedMessage(
                        id=m.id,
                        smtp_account_id=m.smtp_account_id,
                        envelope_from=m.envelope_from,
                        envelope_to=m.envelope_to,
                        smtputf8=m.smtputf8,
                        data=m.data,
                        attempt_number=m.attempt_count + 1,
                        created_at=m.created_at,
                        retry_max_attempts=m.retry_max_attempts,
                        retry_base_seconds=m.retry_base_seconds,
                    )
                )
            return claimed

    def renew(self, worker: str, ids: Sequence[str], *, lease_seconds: float, now: datetime) -> None:
        with self._lock:
            for message_id in ids:
                m = self._messages.get(message_id)
                if m and m.lease_owner == worker and m.status == MessageStatus.SENDING:
                    self._messages[message_id] = replace(
                        m, lease_expires_at=now + timedelta(seconds=lease_seconds)
                    )

    def settle(self, worker: str, settlements: Sequence[Settlement], *, now: datetime) -> int:
        held = 0
        with self._lock:
            for s in settlements:
                attempt = s.attempt
                self._attempts.setdefault(attempt.message_id, []).append(attempt)
                m = self._messages.get(attempt.message_id)
                if m is None or m.lease_owner != worker or m.status != MessageStatus.SENDING:
                    continue
                held += 1
                self._messages[m.id] = replace(
                    m,
                    status=s.status,
                    attempt_count=attempt.number,
                    lease_owner=None,
                    lease_expires_at=None,
                    last_reason=attempt.reason,
                    last_smtp_code=attempt.smtp_code,
                    last_enhanced_code=attempt.enhanced_code,
                    last_error=s.error if s.error is not None else attempt.server_text,
                    next_attempt_at=(s.next_attempt_at or now)
                    if s.status == MessageStatus.RETRY
                    else m.next_attempt_at,
                    settled_at=now
                    if s.status in (MessageStatus.SENT, MessageStatus.FAILED)
                    else m.settled_at,
                    updated_at=now,
                )
        return held

    def settle_and_claim(
        self,
        worker: str,
        settlements: Sequence[Settlement],
        *,
        limit: int,
        lease_seconds: float,
        now: datetime,
        ids: Sequence[str] | None = None,
    ) -> tuple[int, list[ClaimedMessage]]:
        with self._lock:
            held = self.settle(worker, settlements, now=now)
            return held, self.claim(worker, limit=limit, lease_seconds=lease_seconds, now=now, ids=ids)

    def release(
        self,
        worker: str,
        ids: Sequence[str],
        *,
        now: datetime,
        not_before: datetime | None = None,
        error: str | None = None,
    ) -> None:
        with self._lock:
            for message_id in ids:
                m = self._messages.get(message_id)
                if m and m.lease_owner == worker and m.status == MessageStatus.SENDING:
                    self._messages[message_id] = replace(
                        m,
                        status=MessageStatus.QUEUED,
                        lease_owner=None,
                        lease_expires_at=None,
                        next_attempt_at=not_before or now,
                        last_error=error if error is not None else m.last_error,
                        updated_at=now,
                    )

    def get(self, message_id: str, *, with_data: bool = False) -> OutboxMessage | None:
        with self._lock:
            m = self._messages.get(message_id)
        if m is None:
            return None
        return m if with_data else replace(m, data=None)

    def attempts(self, message_id: str) -> list[Attempt]:
        with self._lock:
            return list(self._attempts.get(message_id, []))

    def list(
        self,
        *,
        status: MessageStatus | None = None,
        customer_id: str | None = None,
        flow_run_id: str | None = None,
        limit: int = 50,
        before_id: str | None = None,
    ) -> list[OutboxMessage]:
        with self._lock:
            found = [
                replace(m, data=None)
                for m in self._messages.values()
                if (status is None or m.status == status)
                and (customer_id is None or m.customer_id == customer_id)
                and (flow_run_id is None or m.flow_run_id == flow_run_id)
                and (before_id is None or m.id < before_id)
            ]
        found.sort(key=lambda m: m.id, reverse=True)
        return found[:limit]

    def requeue(self, message_id: str, *, now: datetime) -> OutboxMessage:
        with self._lock:
            m = self._require(message_id)
            check_requeue(m)
            self._messages[message_id] = replace(
                m, status=MessageStatus.QUEUED, next_attempt_at=now, settled_at=None, updated_at=now
            )
            return self._without_data(message_id)

    def cancel(self, message_id: str, *, now: datetime) -> OutboxMessage:
        with self._lock:
            m = self._require(message_id)
            check_cancel(m)
            self._messages[message_id] = replace(
                m, status=MessageStatus.CANCELLED, settled_at=now, updated_at=now
            )
            return self._without_data(message_id)

    def cancel_waiting(self, ids: Sequence[str], *, now: datetime) -> int:
        cancelled = 0
        with self._lock:
            for message_id in ids:
                m = self._messages.get(message_id)
                if m is not None and m.status in (MessageStatus.QUEUED, MessageStatus.RETRY):
                    self._messages[message_id] = replace(
                        m, status=MessageStatus.CANCELLED, settled_at=now, updated_at=now
                    )
                    cancelled += 1
        return cancelled

    def counts(self) -> dict[str, int]:
        counts = {s.value: 0 for s in MessageStatus}
        with self._lock:
            for m in self._messages.values():
                counts[m.status.value] += 1
        return counts

    def _require(self, message_id: str) -> OutboxMessage:
        m = self._messages.get(message_id)
        if m is None:
            raise message_not_found(message_id)
        return m

    def _without_data(self, message_id: str) -> OutboxMessage:
        return replace(self._messages[message_id], data=None)
