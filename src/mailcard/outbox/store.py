"""The outbox's interface, declared for its consumers (compose, worker, CLI, API).

Two implementations keep one contract (``tests/contract``): :class:`SqlOutboxStore` (SQLite and
PostgreSQL) for real use and :class:`InMemoryOutboxStore` as a fake for fast unit tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from mailcard.outbox.model import (
    Attempt,
    ClaimedMessage,
    EnqueueResult,
    MessageStatus,
    NewMessage,
    OutboxMessage,
    Settlement,
)


class OutboxStore(Protocol):
    def enqueue(self, message: NewMessage, *, now: datetime) -> EnqueueResult:
        """Store durably (committed when this returns). A known idempotency key returns the existing
        message, or raises ``InputError`` (``idempotency_key_reused``) when both carry a request
        fingerprint and they differ."""
        ...

    def enqueue_many(self, messages: Sequence[NewMessage], *, now: datetime) -> list[str]:
        """Store a batch in one transaction; returns the ids in order (existing ids for known keys,
        whose fingerprints are not compared: a bulk caller makes its keys itself)."""
        ...

    def claim(
        self,
        worker: str,
        *,
        limit: int,
        lease_seconds: float,
        now: datetime,
        ids: Sequence[str] | None = None,
    ) -> list[ClaimedMessage]:
        """Lease up to ``limit`` due messages (queued, retry due, or sending with an expired lease)."""
        ...

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
        """:meth:`settle` then :meth:`claim`, in one transaction: a busy worker records what it has
        sent in the transaction that leases its next messages, instead of paying a second commit.
        Returns what each would."""
        ...

    def renew(self, worker: str, ids: Sequence[str], *, lease_seconds: float, now: datetime) -> None: ...

    def settle(self, worker: str, settlements: Sequence[Settlement], *, now: datetime) -> int:
        """Record attempts and move messages on; returns how many this worker still held the lease for."""
        ...

    def release(
        self,
        worker: str,
        ids: Sequence[str],
        *,
        now: datetime,
        not_before: datetime | None = None,
        error: str | None = None,
    ) -> None:
        """Give leased messages back without an attempt (graceful stop, or a set-up problem to fix first)."""
        ...

    def get(self, message_id: str, *, with_data: bool = False) -> OutboxMessage | None: ...

    def attempts(self, message_id: str) -> list[Attempt]: ...

    def list(
        self,
        *,
        status: MessageStatus | None = None,
        customer_id: str | None = None,
        flow_run_id: str | None = None,
        limit: int = 50,
        before_id: str | None = None,
    ) -> list[OutboxMessage]:
        """Newest first; ``before_id`` pages backwards."""
        ...

    def requeue(self, message_id: str, *, now: datetime) -> OutboxMessage:
        """Send a failed, cancelled or waiting message again now (``mailcard outbox retry``)."""
        ...

    def cancel(self, message_id: str, *, now: datetime) -> OutboxMessage:
        """Stop a message that has not been sent; a message being sent right now cannot be cancelled."""
        ...

    def cancel_waiting(self, ids: Sequence[str], *, now: datetime) -> int:
        """Cancel those of ``ids`` still waiting (queued or retry), skipping the others; how many."""
        ...

    def counts(self) -> dict[str, int]: ...
