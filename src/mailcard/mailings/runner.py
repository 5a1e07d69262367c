"""Composes mailings chunk by chunk on a worker's event loop, beside the delivery worker.

Rendering and building a message is CPU work in this process; it runs on the event loop in slices
of a few messages, so the delivery tasks sharing the loop take turns with it rather than stall.
Database calls run in one helper thread. The outbox's enqueue listener (``mailcard worker`` and
``mailcard run`` connect it to the delivery worker's ``wake``) has the messages claimed at once.

Composing where the messages are delivered needs no process of its own; it is not faster than
separate composing processes, though (bench ``mailing`` against ``e2e``, README "Benchmarks").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from mailcard.compose import Composer, EmailRequest
from mailcard.compose.service import PreparedEmail, new_message
from mailcard.db.thread import DatabaseThread
from mailcard.delivery.worker import default_worker_id
from mailcard.domain.mailbox import Mailbox
from mailcard.errors import MailcardError
from mailcard.eventloop import wait_or_timeout
from mailcard.mailings.model import (
    ChunkOutcome,
    LeasedChunk,
    MailingContent,
    RecipientRefusal,
    recipient_key,
)
from mailcard.mailings.store import SqlMailingStore
from mailcard.outbox.store import OutboxStore
from mailcard.validation.addresses import parse_mailbox

__all__ = ["MailingRunner"]

log = logging.getLogger("mailcard.mailings")
# Messages composed between two turns of the event loop: a few milliseconds of CPU.
_SLICE = 16


def _utcnow() -> datetime:
    return datetime.now(UTC)


class MailingRunner:
    def __init__(
        self,
        store: SqlMailingStore,
        composer: Composer,
        outbox: OutboxStore,
        *,
        owner: str | None = None,
        lease_seconds: float = 120.0,
        poll_seconds: float = 0.5,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._store = store
        self._composer = composer
        self._outbox = outbox
        self.owner = owner or default_worker_id()
        self._lease_seconds = lease_seconds
        self._poll_seconds = poll_seconds
        self._clock = clock
        self._db = DatabaseThread("mailcard-mailings")
        self._senders: dict[str, tuple[MailingContent, Mailbox]] = {}
        self.composed = 0
        self.refused = 0

    async def run(self, stop: asyncio.Event, *, mailing_id: str | None = None) -> None:
        """Compose chunks until ``stop`` is set; with ``mailing_id``, only that mailing's, until none
        is left (the CLI's in-process delivery)."""
        finished: ChunkOutcome | None = None
        try:
            while not stop.is_set():
                try:
                    chunk = await self._db.call(
                        self._store.lease,
                        self.owner,
                        finished=finished,
                        lease_seconds=self._lease_seconds,
                        now=self._clock(),
                        mailing_id=mailing_id,
                    )
                    finished = None
                    if chunk is not None:
                        finished = await self._compose(chunk)
                        continue
                except Exception:
                    # The database may be briefly away: the chunk's lease expires and it is composed
                    # again (its messages are not stored twice: their idempotency keys).
                    log.exception("composing a mailing chunk failed; trying again")
                    finished = None
                if mailing_id is not None:
                    return
                await wait_or_timeout(stop, self._poll_seconds)
            if finished is not None:  # stopped with a chunk composed: record it, lease nothing more
                await self._db.call(self._store.record, self.owner, finished, now=self._clock())
        finally:
            self._db.shutdown()

    async def _compose(self, chunk: LeasedChunk) -> ChunkOutcome:
        content, sender = await self._content(chunk.mailing_id)
        ready: list[tuple[EmailRequest, PreparedEmail]] = []
        refused: list[RecipientRefusal] = []
        for index, (seq, address, customer_id, context) in enumerate(chunk.recipients):
            if index and index % _SLICE == 0:
                await asyncio.sleep(0)  # the delivery tasks' turn
            request = EmailRequest(
                sender=sender,
                to=address,
                subject=content.subject,
                preheader=content.preheader,
                text=content.text,
                html=content.html,
                context=context,
                timezone=content.timezone,
                idempotency_key=recipient_key(chunk.mailing_id, seq),
                smtp_account_id=content.smtp_account_id,
                customer_id=customer_id,
            )
            try:
                ready.append((request, self._composer.prepare(request)))
            except MailcardError as error:
                refused.append(RecipientRefusal(seq=seq, code=error.code, message=error.message))
            except Exception:  # a bug must not stop the mailing at this recipient, chunk after chunk
                log.exception("composing recipient %s of mailing %s failed", seq, chunk.mailing_id)
                refused.append(
                    RecipientRefusal(
                        seq=seq,
                        code="internal_error",
                        message="Internal error while composing; see the worker log.",
                    )
                )
        ids = await self._db.call(
            self._outbox.enqueue_many, [new_message(r, p) for r, p in ready], now=self._clock()
        )
        # Cancelled while this chunk was composed: the canceller found the messages stored before it
        # marked the mailing; these were stored after, so this worker cancels them.
        if ids:
            cancelled: bool = await self._db.call(self._store.is_cancelled, chunk.mailing_id)
            if cancelled:
                await self._db.call(self._outbox.cancel_waiting, ids, now=self._clock())
        self.composed += len(ids)
        self.refused += len(refused)
        return ChunkOutcome(chunk_id=chunk.chunk_id, mailing_id=chunk.mailing_id, refused=refused)

    async def _content(self, mailing_id: str) -> tuple[MailingContent, Mailbox]:
        """The mailing's templates and parsed sender (a mailing never changes: kept per process)."""
        known = self._senders.get(mailing_id)
        if known is None:
            if len(self._senders) >= 64:  # a long-running worker meets many mailings over time
                self._senders.clear()
            content = await self._db.call(self._store.content, mailing_id)
            known = self._senders[mailing_id] = (content, parse_mailbox(content.sender))
        return known
