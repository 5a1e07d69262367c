"""The outbox: a durable queue of rendered messages (envelope + exact bytes + idempotency key).

It knows nothing of templates or SMTP. Messages move ``queued → sending (leased) → sent | retry | failed``
(or ``cancelled`` by a person); every delivery attempt is recorded with the server's evidence.
"""

from mailcard.outbox.model import (
    Attempt,
    ClaimedMessage,
    EnqueueResult,
    MessageStatus,
    NewMessage,
    OutboxMessage,
    Settlement,
)
from mailcard.outbox.retry import GiveUp, RetryAt, RetryPolicy, decide_retry
from mailcard.outbox.store import OutboxStore

__all__ = [
    "Attempt",
    "ClaimedMessage",
    "EnqueueResult",
    "GiveUp",
    "MessageStatus",
    "NewMessage",
    "OutboxMessage",
    "OutboxStore",
    "RetryAt",
    "RetryPolicy",
    "Settlement",
    "decide_retry",
]
