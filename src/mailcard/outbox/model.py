"""Values the outbox stores and hands out. Plain frozen dataclasses: no behaviour, no I/O."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from mailcard.errors import ConflictError, InputError, NotFoundError
from mailcard.tokens import token_bytes


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    RETRY = "retry"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def settled(self) -> bool:
        return self in (MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.CANCELLED)


_id_lock = threading.Lock()
_last_id_value = 0


def _new_lock_after_fork() -> None:
    global _id_lock
    _id_lock = threading.Lock()  # one held by another thread at fork time would stay held


os.register_at_fork(after_in_child=_new_lock_after_fork)


def new_message_id() -> str:
    """A 32-hex-digit id that sorts by creation time: a 48-bit millisecond clock, then 80 random bits
    (from :mod:`mailcard.tokens`, which a forked child does not share with its parent).

    Within one process ids strictly increase (a counter within the same millisecond), so "newest
    first" pages are stable.
    """
    global _last_id_value
    random_bits = int.from_bytes(token_bytes(10))
    with _id_lock:
        value = (int(time.time() * 1000) << 80) | random_bits
        if value <= _last_id_value:
            value = _last_id_value + 1
        _last_id_value = value
    return f"{value:032x}"


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A rendered, validated message ready to be stored. ``data`` is sent byte for byte."""

    envelope_from: str
    envelope_to: tuple[str, ...]
    data: bytes
    message_id: str
    subject: str = ""
    smtputf8: bool = False
    idempotency_key: str | None = None
    # What the caller asked for under ``idempotency_key`` (:func:`mailcard.digests.json_digest` of
    # its request): the key used again for a different request is refused, where
    # returning the first message would silently drop the new one. None: not checked.
    request_fingerprint: str | None = None
    smtp_account_id: int | None = None
    customer_id: str | None = None
    flow_run_id: str | None = None
    not_before: datetime | None = None
    # This message's own retry policy (a flow block's "retry"); None keeps the worker's policy.
    retry_max_attempts: int | None = None
    retry_base_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try to hand a message to SMTP, with the server's evidence."""

    message_id: str
    number: int
    worker: str
    started_at: datetime
    finished_at: datetime
    outcome: str  # "sent" | "transient" | "permanent"
    reason: str | None = None
    smtp_code: int | None = None
    enhanced_code: str | None = None
    server_text: str | None = None
    refused: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "worker": self.worker,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "outcome": self.outcome,
            "reason": self.reason,
            "smtp_code": self.smtp_code,
            "enhanced_code": self.enhanced_code,
            "server_text": self.server_text,
            "refused": self.refused,
        }


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A stored message as people and the API see it (without the bytes unless asked for)."""

    id: str
    status: MessageStatus
    idempotency_key: str | None
    smtp_account_id: int | None
    envelope_from: str
    envelope_to: tuple[str, ...]
    smtputf8: bool
    message_id: str
    subject: str
    customer_id: str | None
    flow_run_id: str | None
    attempt_count: int
    next_attempt_at: datetime
    lease_owner: str | None
    lease_expires_at: datetime | None
    last_reason: str | None
    last_smtp_code: int | None
    last_enhanced_code: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    settled_at: datetime | None
    data: bytes | None = None
    retry_max_attempts: int | None = None
    retry_base_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status.value,
            "idempotency_key": self.idempotency_key,
            "smtp_account_id": self.smtp_account_id,
            "envelope_from": self.envelope_from,
            "envelope_to": list(self.envelope_to),
            "message_id": self.message_id,
            "subject": self.subject,
            "customer_id": self.customer_id,
            "flow_run_id": self.flow_run_id,
            "attempt_count": self.attempt_count,
            "next_attempt_at": self.next_attempt_at.isoformat(),
            "reason": self.last_reason,
            "smtp_code": self.last_smtp_code,
            "enhanced_code": self.last_enhanced_code,
            "error": self.last_error,
            "created_at": self.created_at.isoformat(),
            "settled_at": self.settled_at.isoformat() if self.settled_at else None,
        }


def check_requeue(message: OutboxMessage) -> None:
    """Only a message not sent and not being sent may be queued again (``mailcard outbox retry``)."""
    if message.status in (MessageStatus.SENT, MessageStatus.SENDING):
        raise ConflictError(
            f"Message {message.id} is {message.status.value}; only failed, cancelled or waiting "
            "messages can be sent again.",
            code="message_not_retryable",
        )


def check_cancel(message: OutboxMessage) -> None:
    """Only a message still waiting (queued or retry) may be cancelled."""
    if message.status not in (MessageStatus.QUEUED, MessageStatus.RETRY):
        raise ConflictError(
            f"Message {message.id} is {message.status.value} and can no longer be cancelled.",
            code="message_not_cancellable",
        )


def check_same_request(stored: str | None, given: str | None, message_id: str) -> None:
    """A known idempotency key returns its message only for the request it was first used with.

    As the IETF's Idempotency-Key draft asks: a key reused for a different request is a client's
    mistake (422), not a repeat. A side without a fingerprint (a row stored before fingerprints, or
    a caller that does not give one) is not compared."""
    if stored is not None and given is not None and stored != given:
        raise InputError(
            "This idempotency key was already used for a different e-mail, so this one was not sent.",
            code="idempotency_key_reused",
            hint="Use a new key for a new e-mail; repeat a request with the same key only to retry it unchanged.",
            details={"message_id": message_id},
        )


def message_not_found(message_id: str) -> NotFoundError:
    return NotFoundError(f"No message with id {message_id}.", code="message_not_found")


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    message: OutboxMessage
    created: bool  # False: the idempotency key was known and the existing message is returned


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """What a worker needs to attempt delivery; it holds the lease until it settles the message."""

    id: str
    smtp_account_id: int | None
    envelope_from: str
    envelope_to: tuple[str, ...]
    smtputf8: bool
    data: bytes
    attempt_number: int
    created_at: datetime
    retry_max_attempts: int | None = None
    retry_base_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Settlement:
    """The worker's verdict on one claimed message: the attempt, and where the message goes next."""

    attempt: Attempt
    status: MessageStatus  # SENT, RETRY or FAILED
    next_attempt_at: datetime | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
