"""Mailings in SQL (SQLite and PostgreSQL): the mailing, its recipients, and the chunks workers lease.

Composition is shared out in chunks of recipients. A worker leases the oldest pending chunk (or one
whose lease expired: its worker died), composes it, enqueues the messages in the outbox under the
keys ``mailing:<id>:<seq>``, and then records the chunk as done in the same transaction that leases
its next one. A worker that dies between the two leaves the chunk to be composed again after the
lease; the keys make the outbox return the messages already stored instead of storing them twice.

The store knows nothing of templates or SMTP; progress is read from the outbox rows it points to.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    String,
    and_,
    bindparam,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from mailcard.db.engine import reading
from mailcard.db.schema import mailing_chunks, mailing_recipients, mailings, outbox_messages
from mailcard.errors import NotFoundError
from mailcard.mailings.model import (
    RECIPIENT_KEY_PREFIX,
    ChunkOutcome,
    LeasedChunk,
    Mailing,
    MailingContent,
    MailingProgress,
    NewMailing,
    RecipientView,
)

__all__ = ["CHUNK_SIZE", "SqlMailingStore"]

# Recipients a worker composes between two writes: one outbox transaction and one progress
# transaction per chunk, whose fixed costs (a commit with its fsync) are shared by the chunk.
CHUNK_SIZE = 250
_M, _R, _C = mailings, mailing_recipients, mailing_chunks


class SqlMailingStore:
    def __init__(self, engine: Engine, *, chunk_size: int = CHUNK_SIZE) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self._chunk_size = chunk_size

    # -- creating ------------------------------------------------------------------------------------

    def create(self, new: NewMailing, *, now: datetime) -> Mailing:
        """Store the mailing, its recipients and its chunks in one transaction: all or nothing."""
        mailing_id = uuid.uuid4().hex
        c = new.content
        row = {
            "id": mailing_id,
            "name": new.name,
            "sender": c.sender,
            "smtp_account_id": c.smtp_account_id,
            "subject": c.subject,
            "preheader": c.preheader,
            "text_body": c.text,
            "html_body": c.html,
            "timezone": c.timezone,
            "recipient_count": len(new.recipients),
            "findings": new.findings,
            "created_by": new.created_by,
            "created_at": now,
        }
        recipients = [
            {
                "mailing_id": mailing_id,
                "seq": seq,
                "address": r.address,
                "customer_id": r.customer_id,
                "context": r.context,
            }
            for seq, r in enumerate(new.recipients)
        ]
        chunks = [
            {
                "mailing_id": mailing_id,
                "first_seq": first,
                "end_seq": min(first + self._chunk_size, len(recipients)),
                "status": "pending",
                "updated_at": now,
            }
            for first in range(0, len(recipients), self._chunk_size)
        ]
        with self._engine.begin() as conn:
            conn.execute(insert(_M), row)
            for start in range(0, len(recipients), 1000):
                conn.execute(insert(_R), recipients[start : start + 1000])
            if chunks:
                conn.execute(insert(_C), chunks)
        return _mailing(row)

    # -- composing (the workers) ---------------------------------------------------------------------

    def lease(
        self,
        owner: str,
        *,
        finished: ChunkOutcome | None,
        lease_seconds: float,
        now: datetime,
        mailing_id: str | None = None,
    ) -> LeasedChunk | None:
        """Record ``finished`` (when ``owner`` still holds it) and lease the next chunk, if any (of
        ``mailing_id`` only, when given)."""
        due = or_(
            _C.c.status == "pending",
            and_(_C.c.status == "composing", _C.c.lease_expires_at < now),
        )
        if mailing_id is not None:
            due = and_(due, _C.c.mailing_id == mailing_id)
        candidates = select(_C.c.id).where(due).order_by(_C.c.id).limit(1)
        if finished is None:
            # An idle worker asks every poll: a read, which on SQLite takes no write lock (a write
            # transaction would make every delivery's claim and settle wait for it).
            with reading(self._engine) as conn:
                if conn.execute(candidates).first() is None:
                    return None
        with self._engine.begin() as conn:
            if finished is not None:
                self._record(conn, owner, finished, now)
            if self._dialect == "postgresql":
                candidates = candidates.with_for_update(skip_locked=True)
            leased = conn.execute(
                update(_C)
                .where(_C.c.id.in_(candidates.scalar_subquery()))
                .values(
                    status="composing",
                    lease_owner=owner,
                    lease_expires_at=now + timedelta(seconds=lease_seconds),
                    updated_at=now,
                )
                .returning(_C.c.id, _C.c.mailing_id, _C.c.first_seq, _C.c.end_seq)
            ).first()
            if leased is None:
                return None
            rows = conn.execute(
                select(_R.c.seq, _R.c.address, _R.c.customer_id, _R.c.context)
                .where(
                    _R.c.mailing_id == leased.mailing_id,
                    _R.c.seq >= leased.first_seq,
                    _R.c.seq < leased.end_seq,
                )
                .order_by(_R.c.seq)
            ).all()
        return LeasedChunk(
            chunk_id=leased.id,
            mailing_id=leased.mailing_id,
            recipients=[(r.seq, r.address, r.customer_id, r.context) for r in rows],
        )

    def record(self, owner: str, outcome: ChunkOutcome, *, now: datetime) -> None:
        """Record a composed chunk without leasing another (a worker that is stopping)."""
        with self._engine.begin() as conn:
            self._record(conn, owner, outcome, now)

    def _record(self, conn: Connection, owner: str, outcome: ChunkOutcome, now: datetime) -> None:
        done = conn.execute(
            update(_C)
            .where(_C.c.id == outcome.chunk_id, _C.c.lease_owner == owner, _C.c.status == "composing")
            .values(status="done", lease_owner=None, lease_expires_at=None, updated_at=now)
        )
        if done.rowcount != 1:
            return  # the lease expired and another worker took the chunk: it records the outcome
        # Queued recipients need no write: their messages are found by their idempotency keys.
        if outcome.refused:
            target = and_(_R.c.mailing_id == outcome.mailing_id, _R.c.seq == bindparam("s"))
            conn.execute(
                update(_R).where(target).values(error=bindparam("e")),
                [{"s": r.seq, "e": r.to_dict()} for r in outcome.refused],
            )

    def cancel(self, mailing_id: str, *, now: datetime) -> builtins.list[str]:
        """Stop the mailing: no chunk is composed any more. Returns its messages still waiting in the
        outbox, for the caller to cancel there (the outbox owns its rows)."""
        with self._engine.begin() as conn:
            found = conn.execute(select(_M.c.cancelled_at).where(_M.c.id == mailing_id)).first()
            if found is None:
                raise NotFoundError(f"No mailing {mailing_id}.", code="mailing_not_found")
            if found.cancelled_at is None:
                conn.execute(update(_M).where(_M.c.id == mailing_id).values(cancelled_at=now))
            conn.execute(
                update(_C)
                .where(_C.c.mailing_id == mailing_id, _C.c.status.in_(["pending", "composing"]))
                .values(status="cancelled", lease_owner=None, lease_expires_at=None, updated_at=now)
            )
        return self.waiting_messages(mailing_id)

    def waiting_messages(self, mailing_id: str) -> builtins.list[str]:
        """The mailing's messages still queued or waiting to retry."""
        o = outbox_messages
        with reading(self._engine) as conn:
            return list(
                conn.scalars(
                    select(o.c.id)
                    .select_from(_R.join(o, _message_of_recipient()))
                    .where(_R.c.mailing_id == mailing_id, o.c.status.in_(["queued", "retry"]))
                )
            )

    def is_cancelled(self, mailing_id: str) -> bool:
        with reading(self._engine) as conn:
            return conn.scalar(select(_M.c.cancelled_at).where(_M.c.id == mailing_id)) is not None

    def content(self, mailing_id: str) -> MailingContent:
        return self.get(mailing_id).content

    # -- reading -------------------------------------------------------------------------------------

    def get(self, mailing_id: str) -> Mailing:
        with reading(self._engine) as conn:
            return _read(conn, mailing_id)

    def overview(self, mailing_id: str) -> tuple[Mailing, MailingProgress]:
        """The mailing and where its recipients stand, read on one connection."""
        with reading(self._engine) as conn:
            mailing = _read(conn, mailing_id)
            return mailing, _progress(conn, mailing)

    def progress(self, mailing_id: str) -> MailingProgress:
        return self.overview(mailing_id)[1]

    def list(self, *, limit: int, offset: int) -> tuple[builtins.list[tuple[Mailing, MailingProgress]], int]:
        """A page of mailings, newest first, each with its progress; and how many there are."""
        with reading(self._engine) as conn:
            total = conn.scalar(select(func.count()).select_from(_M)) or 0
            rows = conn.execute(
                select(_M).order_by(_M.c.created_at.desc(), _M.c.id).limit(limit).offset(offset)
            ).all()
            page = [_mailing(r._mapping) for r in rows]
            progress = _progresses(conn, page)
            return [(m, progress[m.id]) for m in page], total

    def recipients(
        self, mailing_id: str, *, limit: int, offset: int
    ) -> tuple[builtins.list[RecipientView], int]:
        """A page of the recipients in order, each with its message and status; and how many there are."""
        o = outbox_messages
        with reading(self._engine) as conn:
            mailing = _read(conn, mailing_id)  # an unknown mailing is not found, not an empty page
            rows = conn.execute(
                select(_R.c.seq, _R.c.address, _R.c.customer_id, o.c.id, _R.c.error, o.c.status)
                .select_from(_R.outerjoin(o, _message_of_recipient()))
                .where(_R.c.mailing_id == mailing_id)
                .order_by(_R.c.seq)
                .limit(limit)
                .offset(offset)
            ).all()
        never = "cancelled" if mailing.cancelled_at is not None else "pending"
        views = [
            RecipientView(
                seq=r.seq,
                address=r.address,
                customer_id=r.customer_id,
                message_id=r.id,
                status=str(r.status) if r.status is not None else ("refused" if r.error else never),
                error=r.error,
            )
            for r in rows
        ]
        return views, mailing.recipient_count


def _read(conn: Connection, mailing_id: str) -> Mailing:
    row = conn.execute(select(_M).where(_M.c.id == mailing_id)).first()
    if row is None:
        raise NotFoundError(f"No mailing {mailing_id}.", code="mailing_not_found")
    return _mailing(row._mapping)


def _progress(conn: Connection, mailing: Mailing) -> MailingProgress:
    return _progresses(conn, [mailing])[mailing.id]


def _progresses(conn: Connection, page: builtins.list[Mailing]) -> dict[str, MailingProgress]:
    """Each mailing's progress, by id: two grouped reads for the whole page."""
    ids = [m.id for m in page]
    refused: dict[str, int] = {
        mailing_id: int(count)
        for mailing_id, count in conn.execute(
            select(_R.c.mailing_id, func.count())
            .where(_R.c.mailing_id.in_(ids), _R.c.error.is_not(None))
            .group_by(_R.c.mailing_id)
        )
    }
    messages: dict[str, dict[str, int]] = {mailing_id: {} for mailing_id in ids}
    for mailing_id, status, count in conn.execute(
        select(_R.c.mailing_id, outbox_messages.c.status, func.count())
        .select_from(_R.join(outbox_messages, _message_of_recipient()))
        .where(_R.c.mailing_id.in_(ids))
        .group_by(_R.c.mailing_id, outbox_messages.c.status)
    ):
        messages[mailing_id][str(status)] = int(count)
    return {
        m.id: MailingProgress(
            recipients=m.recipient_count,
            composed=refused.get(m.id, 0) + sum(messages[m.id].values()),
            refused=refused.get(m.id, 0),
            messages=messages[m.id],
            cancelled=m.cancelled_at is not None,
        )
        for m in page
    }


def _message_of_recipient() -> Any:
    """The join condition of a recipient and its outbox message: the key ``mailing:<id>:<seq>``
    (:func:`~mailcard.mailings.model.recipient_key`), looked up in the outbox's unique key index."""
    key = literal(RECIPIENT_KEY_PREFIX) + _R.c.mailing_id + literal(":") + cast(_R.c.seq, String)
    return outbox_messages.c.idempotency_key == key


def _mailing(row: Mapping[Any, Any]) -> Mailing:
    return Mailing(
        id=row["id"],
        name=row["name"],
        content=MailingContent(
            sender=row["sender"],
            subject=row["subject"],
            preheader=row["preheader"],
            text=row["text_body"],
            html=row["html_body"],
            timezone=row["timezone"],
            smtp_account_id=row["smtp_account_id"],
        ),
        recipient_count=row["recipient_count"],
        findings=list(row["findings"] or []),
        created_by=row["created_by"],
        created_at=row["created_at"],
        cancelled_at=row.get("cancelled_at"),
    )
