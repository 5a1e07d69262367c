"""The outbox on a relational database: SQLite (one machine) or PostgreSQL (several).

Claiming is one set-based statement: on PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets many workers on many
machines claim disjoint batches without waiting on each other; on SQLite the write lock taken by
``BEGIN IMMEDIATE`` serialises claims. Settling is fenced by the lease owner, so a worker whose lease
expired cannot overwrite what the worker that took the message over decided.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    Connection,
    Engine,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from mailcard.db.engine import driver_connection, reading
from mailcard.db.rows import from_row
from mailcard.db.schema import delivery_attempts, outbox_bodies, outbox_messages, sqlite_timestamp
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

_T = outbox_messages
_B = outbox_bodies  # the message bytes, apart from the row that changes (see the schema)
_A = delivery_attempts
_SUMMARY_COLUMNS = list(_T.c)
_CLAIM_COLUMNS = [
    _T.c.id,
    _T.c.smtp_account_id,
    _T.c.envelope_from,
    _T.c.envelope_to,
    _T.c.smtputf8,
    _T.c.attempt_count,
    _T.c.created_at,
    _T.c.retry_max_attempts,
    _T.c.retry_base_seconds,
]


log = logging.getLogger("mailcard.outbox")


class SqlOutboxStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self._listeners: list[Callable[[], None]] = []

    def on_enqueue(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after every committed enqueue in this process; returns the unsubscribe.

        ``mailcard run`` wakes its worker this way, so a message sent from the card goes out at once
        instead of at the worker's next poll.
        """
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _enqueued(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:  # the message is stored; a listener's failure must not say otherwise
                log.exception("outbox enqueue listener failed")

    # -- writing -------------------------------------------------------------------------------------

    def enqueue(
        self,
        message: NewMessage,
        *,
        now: datetime,
        also: Callable[[Connection, str], None] | None = None,
    ) -> EnqueueResult:
        """Store durably; ``also(conn, message_id)`` runs in the same transaction when the row is new.

        ``also`` lets a caller record its side of the message (the card's history) with one commit.
        """
        row = _new_row(message, now)
        with self._engine.begin() as conn:
            inserted = self._insert(conn, [row], [message.data], now) == 1
            if inserted:
                if also is not None:
                    also(conn, row["id"])
                stored = _just_inserted(row)
            else:
                # Skipped only for a known idempotency key: the message stored under it, read once.
                by_key = select(*_SUMMARY_COLUMNS).where(_T.c.idempotency_key == message.idempotency_key)
                known = conn.execute(by_key).one()._mapping
                check_same_request(known["request_fingerprint"], message.request_fingerprint, known["id"])
                stored = _to_message(known)
        if inserted:
            self._enqueued()
        return EnqueueResult(message=stored, created=inserted)

    def enqueue_many(self, messages: Sequence[NewMessage], *, now: datetime) -> list[str]:
        if not messages:
            return []
        rows = [_new_row(m, now) for m in messages]
        keys = [m.idempotency_key for m in messages if m.idempotency_key is not None]
        known: dict[str, str] = {}
        with self._engine.begin() as conn:
            went_in = self._insert(conn, rows, [m.data for m in messages], now)
            if went_in == len(rows):
                keys = []  # no key was known: every message is the one just stored (a mailing's chunk)
            for chunk_start in range(0, len(keys), 500):
                chunk = keys[chunk_start : chunk_start + 500]
                for key, message_id in conn.execute(
                    select(_T.c.idempotency_key, _T.c.id).where(_T.c.idempotency_key.in_(chunk))
                ):
                    known[key] = message_id
        self._enqueued()
        return [known.get(r["idempotency_key"], r["id"]) if r["idempotency_key"] else r["id"] for r in rows]

    def _insert(
        self, conn: Connection, rows: list[dict[str, Any]], bodies: list[bytes], now: datetime
    ) -> int:
        """Insert the new ``rows`` and, for each that went in, its bytes ``bodies[i]``; a row whose
        idempotency key is already stored is skipped. Returns how many rows went in."""
        if self._dialect == "sqlite":
            # The DB-API insert: SQLAlchemy's statement and parameter processing cost more than the
            # insert itself (the card_send and enqueue benchmarks).
            return _sqlite_insert_many(conn, rows, bodies, now)
        # RETURNING tells reliably which rows went in (rowcount after ON CONFLICT varies by driver).
        went_in = set(conn.scalars(self._insert_ignoring_known_keys().returning(_T.c.id), rows))
        stored = [
            {"message_id": r["id"], "data": body}
            for r, body in zip(rows, bodies, strict=True)
            if r["id"] in went_in
        ]
        if stored:
            conn.execute(insert(_B), stored)
        return len(went_in)

    def _insert_ignoring_known_keys(self) -> Any:
        if self._dialect == "postgresql":
            return postgresql.insert(_T).on_conflict_do_nothing(index_elements=["idempotency_key"])
        if self._dialect == "sqlite":
            return sqlite.insert(_T).on_conflict_do_nothing(index_elements=["idempotency_key"])
        return insert(_T)

    def claim(
        self,
        worker: str,
        *,
        limit: int,
        lease_seconds: float,
        now: datetime,
        ids: Sequence[str] | None = None,
    ) -> list[ClaimedMessage]:
        _, claimed = self.settle_and_claim(
            worker, (), limit=limit, lease_seconds=lease_seconds, now=now, ids=ids
        )
        return claimed

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
        if self._dialect == "sqlite":
            return self._sqlite_settle_and_claim(
                worker, settlements, limit=limit, lease_seconds=lease_seconds, now=now, ids=ids
            )
        due = or_(
            and_(_T.c.status.in_([MessageStatus.QUEUED, MessageStatus.RETRY]), _T.c.next_attempt_at <= now),
            and_(_T.c.status == MessageStatus.SENDING, _T.c.lease_expires_at < now),
        )
        candidates = select(_T.c.id).where(due).order_by(_T.c.next_attempt_at).limit(limit)
        if ids is not None:
            candidates = candidates.where(_T.c.id.in_(list(ids)))
        if self._dialect == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        lease_until = now + timedelta(seconds=lease_seconds)
        statement = (
            update(_T)
            .where(_T.c.id.in_(candidates.scalar_subquery()))
            .values(
                status=MessageStatus.SENDING,
                lease_owner=worker,
                lease_expires_at=lease_until,
                updated_at=now,
            )
            .returning(*_CLAIM_COLUMNS)
        )
        with self._engine.begin() as conn:
            held = _write_settlements(conn, worker, settlements, now) if settlements else 0
            rows = conn.execute(statement).all()
            data: dict[str, bytes] = {}
            if rows:
                bodies = select(_B.c.message_id, _B.c.data).where(_B.c.message_id.in_([r.id for r in rows]))
                data = {message_id: body for message_id, body in conn.execute(bodies)}
        return held, [
            ClaimedMessage(
                id=r.id,
                smtp_account_id=r.smtp_account_id,
                envelope_from=r.envelope_from,
                envelope_to=tuple(r.envelope_to),
                smtputf8=r.smtputf8,
                data=data[r.id],
                attempt_number=r.attempt_count + 1,
                created_at=r.created_at,
                retry_max_attempts=r.retry_max_attempts,
                retry_base_seconds=r.retry_base_seconds,
            )
            for r in rows
        ]

    def _sqlite_settle_and_claim(
        self,
        worker: str,
        settlements: Sequence[Settlement],
        *,
        limit: int,
        lease_seconds: float,
        now: datetime,
        ids: Sequence[str] | None,
    ) -> tuple[int, list[ClaimedMessage]]:
        """:meth:`settle_and_claim` on SQLite, through the DB-API (see :data:`_SQLITE_CLAIM` for why).

        A worker with nothing to do polls, and a claim that finds nothing still cost a write
        transaction (the write lock, BEGIN IMMEDIATE, the statement, a commit: ~0.6M instructions).
        So a read without a transaction asks first whether anything is due (~0.05M); only then is
        the write lock taken, and the claim itself decides again under it, as before. With nothing
        due, settlements are written alone."""
        stamp = sqlite_timestamp(now)
        wanted = list(ids) if ids is not None else []
        id_filter = f" AND id IN ({', '.join('?' * len(wanted))})" if ids is not None else ""
        with self._engine.connect() as reader:
            # Not reader.execute: that would BEGIN a transaction; alone, the SELECT reads the latest commit.
            due = (
                driver_connection(reader)
                .execute(
                    _SQLITE_ANY_DUE.format(ids=id_filter), (stamp, *wanted, stamp, *wanted, stamp, *wanted)
                )
                .fetchone()
            )
        if not due[0]:
            return self.settle(worker, settlements, now=now), []
        branch: list[Any] = [stamp, *wanted, limit]
        params = (
            worker,
            sqlite_timestamp(now + timedelta(seconds=lease_seconds)),
            stamp,
            *branch,
            *branch,
            *branch,
            limit,
        )
        with self._engine.begin() as conn:
            driver = driver_connection(conn)
            held = _sqlite_write_settlements(driver, worker, settlements, now) if settlements else 0
            rows = driver.execute(_SQLITE_CLAIM.format(ids=id_filter), params).fetchall()
            data: dict[str, bytes] = {}
            for start in range(0, len(rows), 500):  # far below SQLite's limit on parameters
                claimed = [r[0] for r in rows[start : start + 500]]
                marks = ", ".join("?" * len(claimed))
                data.update(driver.execute(_SQLITE_BODIES.format(marks=marks), claimed))
        # Positional: the fields of ClaimedMessage in order. created_at as stored is UTC without a zone.
        return held, [
            ClaimedMessage(
                r[0],
                r[1],
                r[2],
                tuple(json.loads(r[3])),
                bool(r[4]),
                data[r[0]],
                r[5] + 1,
                datetime.fromisoformat(r[6] + "+00:00"),
                r[7],
                r[8],
            )
            for r in rows
        ]

    def renew(self, worker: str, ids: Sequence[str], *, lease_seconds: float, now: datetime) -> None:
        if not ids:
            return
        with self._engine.begin() as conn:
            conn.execute(
                update(_T)
                .where(
                    _T.c.id.in_(list(ids)), _T.c.lease_owner == worker, _T.c.status == MessageStatus.SENDING
                )
                .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
            )

    def settle(self, worker: str, settlements: Sequence[Settlement], *, now: datetime) -> int:
        if not settlements:
            return 0
        with self._engine.begin() as conn:
            if self._dialect == "sqlite":
                return _sqlite_write_settlements(driver_connection(conn), worker, settlements, now)
            return _write_settlements(conn, worker, settlements, now)

    def release(
        self,
        worker: str,
        ids: Sequence[str],
        *,
        now: datetime,
        not_before: datetime | None = None,
        error: str | None = None,
    ) -> None:
        if not ids:
            return
        with self._engine.begin() as conn:
            conn.execute(
                update(_T)
                .where(
                    _T.c.id.in_(list(ids)), _T.c.lease_owner == worker, _T.c.status == MessageStatus.SENDING
                )
                .values(
                    status=MessageStatus.QUEUED,
                    lease_owner=None,
                    lease_expires_at=None,
                    next_attempt_at=not_before or now,
                    updated_at=now,
                    **({"last_error": error} if error is not None else {}),
                )
            )

    def requeue(self, message_id: str, *, now: datetime) -> OutboxMessage:
        with self._engine.begin() as conn:
            current = self._require(conn, message_id)
            check_requeue(current)
            conn.execute(
                update(_T)
                .where(_T.c.id == message_id)
                .values(status=MessageStatus.QUEUED, next_attempt_at=now, settled_at=None, updated_at=now)
            )
            return self._require(conn, message_id)

    def cancel(self, message_id: str, *, now: datetime) -> OutboxMessage:
        with self._engine.begin() as conn:
            current = self._require(conn, message_id)
            check_cancel(current)
            conn.execute(
                update(_T)
                .where(_T.c.id == message_id, _T.c.status.in_([MessageStatus.QUEUED, MessageStatus.RETRY]))
                .values(status=MessageStatus.CANCELLED, settled_at=now, updated_at=now)
            )
            return self._require(conn, message_id)

    def cancel_waiting(self, ids: Sequence[str], *, now: datetime) -> int:
        cancelled = 0
        with self._engine.begin() as conn:
            for start in range(0, len(ids), 500):
                cancelled += conn.execute(
                    update(_T)
                    .where(
                        _T.c.id.in_(list(ids[start : start + 500])),
                        _T.c.status.in_([MessageStatus.QUEUED, MessageStatus.RETRY]),
                    )
                    .values(status=MessageStatus.CANCELLED, settled_at=now, updated_at=now)
                ).rowcount
        return cancelled

    # -- reading -------------------------------------------------------------------------------------

    def get(self, message_id: str, *, with_data: bool = False) -> OutboxMessage | None:
        query = select(*_SUMMARY_COLUMNS).where(_T.c.id == message_id)
        if with_data:
            query = query.add_columns(_B.c.data).outerjoin(_B, _B.c.message_id == _T.c.id)
        with reading(self._engine) as conn:
            row = conn.execute(query).first()
        return _to_message(row._mapping) if row else None

    def attempts(self, message_id: str) -> list[Attempt]:
        with reading(self._engine) as conn:
            rows = conn.execute(select(_A).where(_A.c.message_id == message_id).order_by(_A.c.id)).all()
        return [from_row(Attempt, r._mapping) for r in rows]

    def list(
        self,
        *,
        status: MessageStatus | None = None,
        customer_id: str | None = None,
        flow_run_id: str | None = None,
        limit: int = 50,
        before_id: str | None = None,
    ) -> list[OutboxMessage]:
        query = select(*_SUMMARY_COLUMNS).order_by(_T.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(_T.c.status == status)
        if customer_id is not None:
            query = query.where(_T.c.customer_id == customer_id)
        if flow_run_id is not None:
            query = query.where(_T.c.flow_run_id == flow_run_id)
        if before_id is not None:
            query = query.where(_T.c.id < before_id)
        with reading(self._engine) as conn:
            return [_to_message(r._mapping) for r in conn.execute(query)]

    def counts(self) -> dict[str, int]:
        with reading(self._engine) as conn:
            rows = conn.execute(select(_T.c.status, func.count()).group_by(_T.c.status)).all()
        counts = {s.value: 0 for s in MessageStatus}
        counts.update({status: count for status, count in rows})
        return counts

    def _require(self, conn: Any, message_id: str) -> OutboxMessage:
        row = conn.execute(select(*_SUMMARY_COLUMNS).where(_T.c.id == message_id)).first()
        if row is None:
            raise message_not_found(message_id)
        return _to_message(row._mapping)


# The claim on SQLite. Two things made the one-statement ``OR`` query of PostgreSQL slow here:
# SQLite answers the ``OR`` with a multi-index scan that collects every due message and sorts them all
# (a claim cost time proportional to the queue's length), and building the statement with SQLAlchemy
# cost about 1 ms of CPU per claim, paid even when nothing is due (a worker polls). So: plain SQL, and
# one ordered, limited range of ``ix_outbox_due`` (status, next_attempt_at) per status, which reads at
# most ``limit`` rows each (``sending`` reads only the messages in flight). Same set, same order.
# Timestamps are compared in the form ``UtcDateTime`` stores (:func:`sqlite_timestamp`).
_SQLITE_CLAIM = (
    "UPDATE outbox_messages SET status = 'sending', lease_owner = ?, lease_expires_at = ?, updated_at = ? "
    "WHERE id IN (SELECT id FROM ("
    "SELECT * FROM (SELECT id, next_attempt_at FROM outbox_messages WHERE status = 'queued' "
    "AND next_attempt_at <= ?{ids} ORDER BY next_attempt_at LIMIT ?) "
    "UNION ALL "
    "SELECT * FROM (SELECT id, next_attempt_at FROM outbox_messages WHERE status = 'retry' "
    "AND next_attempt_at <= ?{ids} ORDER BY next_attempt_at LIMIT ?) "
    "UNION ALL "
    "SELECT * FROM (SELECT id, next_attempt_at FROM outbox_messages WHERE status = 'sending' "
    "AND lease_expires_at < ?{ids} ORDER BY next_attempt_at LIMIT ?)"
    ") ORDER BY next_attempt_at LIMIT ?) "
    "RETURNING id, smtp_account_id, envelope_from, envelope_to, smtputf8, attempt_count, created_at, "
    "retry_max_attempts, retry_base_seconds"
)
# The claimed messages' bytes, read in the claim's transaction.
_SQLITE_BODIES = "SELECT message_id, data FROM outbox_bodies WHERE message_id IN ({marks})"

# Whether a claim would find anything: the claim's three ranges, each stopping at its first row, in
# turn (CASE stops at the first that has one; OR would search all three, the in-flight ones too).
_SQLITE_ANY_DUE = (
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM outbox_messages WHERE status = 'queued' "
    "AND next_attempt_at <= ?{ids}) THEN 1 "
    "WHEN EXISTS (SELECT 1 FROM outbox_messages WHERE status = 'retry' AND next_attempt_at <= ?{ids}) THEN 1 "
    "ELSE EXISTS (SELECT 1 FROM outbox_messages WHERE status = 'sending' AND lease_expires_at < ?{ids}) END"
)

_ATTEMPT_OPTIONAL = ("reason", "smtp_code", "enhanced_code", "server_text")
_SETTLE_OPTIONAL = ("last_reason", "last_smtp_code", "last_enhanced_code", "last_error")


def _nulls(values: tuple[Any, ...]) -> tuple[bool, ...]:
    """Which of ``values`` are None: the key of the statement that writes those as literal NULLs."""
    return tuple(v is None for v in values)


@cache
def _sqlite_attempt_insert(nulls: tuple[bool, ...]) -> str:
    """The attempts' INSERT with the optional values that are NULL (``nulls``) written as literals."""
    values = ", ".join("NULL" if null else "?" for null in nulls)
    return (
        "INSERT INTO delivery_attempts (message_id, number, worker, started_at, finished_at, outcome, "
        f"{', '.join(_ATTEMPT_OPTIONAL)}, refused) VALUES (?, ?, ?, ?, ?, ?, {values}, ?)"
    )


@cache
def _sqlite_settle_update(shape: tuple[bool, ...]) -> str:
    """The settling UPDATE for ``shape``: which optional values are NULL, then whether it moves
    ``next_attempt_at`` (a retry) and whether it sets ``settled_at`` (a final outcome).

    Only the lease owner settles a message it still holds: a worker whose lease expired cannot
    overwrite the verdict of the worker that took the message over."""
    *nulls, retry, final = shape
    last = ", ".join(
        f"{column} = {'NULL' if null else '?'}" for column, null in zip(_SETTLE_OPTIONAL, nulls, strict=True)
    )
    moved = ", next_attempt_at = ?" if retry else ", settled_at = ?" if final else ""
    return (
        "UPDATE outbox_messages SET status = ?, attempt_count = ?, lease_owner = NULL, "
        f"lease_expires_at = NULL, {last}, updated_at = ?{moved} "
        "WHERE id = ? AND lease_owner = ? AND status = 'sending'"
    )


def _new_row(message: NewMessage, now: datetime) -> dict[str, Any]:
    return {
        "id": new_message_id(),
        "idempotency_key": message.idempotency_key,
        "request_fingerprint": message.request_fingerprint,
        "status": MessageStatus.QUEUED.value,
        "smtp_account_id": message.smtp_account_id,
        "envelope_from": message.envelope_from,
        "envelope_to": list(message.envelope_to),
        "smtputf8": message.smtputf8,
        "message_id": message.message_id,
        "subject": message.subject,
        "customer_id": message.customer_id,
        "flow_run_id": message.flow_run_id,
        "attempt_count": 0,
        "retry_max_attempts": message.retry_max_attempts,
        "retry_base_seconds": message.retry_base_seconds,
        "next_attempt_at": message.not_before or now,
        "created_at": now,
        "updated_at": now,
    }


_SQLITE_INSERT = (
    "INSERT INTO outbox_messages (id, idempotency_key, request_fingerprint, status, smtp_account_id, "
    "envelope_from, envelope_to, smtputf8, message_id, subject, customer_id, flow_run_id, attempt_count, "
    "retry_max_attempts, retry_base_seconds, next_attempt_at, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?) "
    "ON CONFLICT (idempotency_key) DO NOTHING"
)
_SQLITE_INSERT_BODY = "INSERT INTO outbox_bodies (message_id, data) VALUES (?, ?)"
# A body whose message went in: when an idempotency key skipped some rows of a batch.
_SQLITE_INSERT_BODY_IF_STORED = (
    "INSERT INTO outbox_bodies (message_id, data) SELECT ?, ? WHERE EXISTS "
    "(SELECT 1 FROM outbox_messages WHERE id = ?)"
)


def _sqlite_insert_many(conn: Any, rows: list[dict[str, Any]], bodies: list[bytes], now: datetime) -> int:
    """Bulk insert through the DB-API directly: SQLAlchemy's per-row parameter processing was most of
    the enqueue benchmark's time. Timestamps are written in the exact form ``UtcDateTime`` writes.
    ``bodies[i]`` is the message bytes of ``rows[i]``. Returns how many rows went in (those with a
    known idempotency key are skipped, and so are their bodies)."""
    stamp = sqlite_timestamp(now)
    driver = driver_connection(conn)
    cursor = driver.executemany(
        _SQLITE_INSERT,
        [
            (
                r["id"],
                r["idempotency_key"],
                r["request_fingerprint"],
                r["status"],
                r["smtp_account_id"],
                r["envelope_from"],
                json.dumps(r["envelope_to"]),
                r["smtputf8"],
                r["message_id"],
                r["subject"],
                r["customer_id"],
                r["flow_run_id"],
                r["retry_max_attempts"],
                r["retry_base_seconds"],
                stamp if r["next_attempt_at"] is now else sqlite_timestamp(r["next_attempt_at"]),
                stamp,
                stamp,
            )
            for r in rows
        ],
    )
    stored = int(cursor.rowcount)
    if stored == len(rows):
        driver.executemany(
            _SQLITE_INSERT_BODY, [(r["id"], body) for r, body in zip(rows, bodies, strict=True)]
        )
    elif stored:
        driver.executemany(
            _SQLITE_INSERT_BODY_IF_STORED,
            [(r["id"], body, r["id"]) for r, body in zip(rows, bodies, strict=True)],
        )
    return stored


def _write_settlements(
    conn: Connection, worker: str, settlements: Sequence[Settlement], now: datetime
) -> int:
    """Record attempts and move the messages on, in the caller's transaction (PostgreSQL)."""
    rows = [_settle_row(worker, s, now) for s in settlements]
    # One executemany per shape of update: the common case (a batch of "sent") is one statement.
    by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_shape.setdefault(tuple(sorted(row)), []).append(row)
    held = 0
    conn.execute(insert(_A), [_attempt_row(s.attempt) for s in settlements])
    for shape, group in by_shape.items():
        values: dict[str, BindParameter[Any]] = {
            name: bindparam(name) for name in shape if not name.startswith("w_")
        }
        statement = (
            update(_T)
            .where(
                _T.c.id == bindparam("w_id"),
                _T.c.lease_owner == bindparam("w_owner"),
                _T.c.status == MessageStatus.SENDING,
            )
            .values(**{name[2:]: param for name, param in values.items()})
        )
        result = conn.execute(statement, group)
        held += result.rowcount if result.rowcount >= 0 else len(group)
    return held


def _sqlite_write_settlements(
    driver: Any, worker: str, settlements: Sequence[Settlement], now: datetime
) -> int:
    """:func:`_write_settlements` on SQLite, through the DB-API like the claim: building the statements with
    SQLAlchemy and processing every parameter cost more CPU than SQLite's own work. Same rows,
    same values in the same stored form, same fencing (only the lease owner's ``sending`` row).

    Rows are grouped by which optional values are empty, and an empty one is written as the
    literal NULL of that group's statement: the DB-API adapts every ``None`` parameter (a
    failed protocol lookup, about half a microsecond each), a literal costs nothing. A batch of
    "sent" is one group: two statements, as before."""
    stamp = sqlite_timestamp(now)
    attempts: dict[tuple[bool, ...], list[tuple[Any, ...]]] = {}
    updates: dict[tuple[bool, ...], list[tuple[Any, ...]]] = {}
    for s in settlements:
        a = s.attempt
        optional = (a.reason, a.smtp_code, a.enhanced_code, a.server_text)
        present = [v for v in optional if v is not None]
        refused = "null" if a.refused is None else json.dumps(a.refused)  # what the JSON column writes
        row = (
            a.message_id,
            a.number,
            a.worker,
            sqlite_timestamp(a.started_at),
            sqlite_timestamp(a.finished_at),
            a.outcome,
        )
        attempts.setdefault(_nulls(optional), []).append((*row, *present, refused))
        status = s.status
        error = s.error if s.error is not None else a.server_text
        last = (a.reason, a.smtp_code, a.enhanced_code, error)
        last_present = [v for v in last if v is not None]
        # next_attempt_at for a retry, settled_at for a final outcome; other columns keep their value.
        retry = status == MessageStatus.RETRY
        final = status in (MessageStatus.SENT, MessageStatus.FAILED)
        moved = (sqlite_timestamp(s.next_attempt_at or now),) if retry else (stamp,) if final else ()
        shape = (*_nulls(last), retry, final)
        updates.setdefault(shape, []).append(
            (status.value, a.number, *last_present, stamp, *moved, a.message_id, worker)
        )
    held = 0
    for nulls, attempt_rows in attempts.items():
        driver.executemany(_sqlite_attempt_insert(nulls), attempt_rows)
    for shape, update_rows in updates.items():
        # executemany sums the rows each UPDATE changed: those whose lease this worker held.
        held += driver.executemany(_sqlite_settle_update(shape), update_rows).rowcount
    return held


def _settle_row(worker: str, s: Settlement, now: datetime) -> dict[str, Any]:
    attempt = s.attempt
    row: dict[str, Any] = {
        "w_id": attempt.message_id,
        "w_owner": worker,
        "v_status": s.status.value,
        "v_attempt_count": attempt.number,
        "v_lease_owner": None,
        "v_lease_expires_at": None,
        "v_last_reason": attempt.reason,
        "v_last_smtp_code": attempt.smtp_code,
        "v_last_enhanced_code": attempt.enhanced_code,
        "v_last_error": s.error if s.error is not None else attempt.server_text,
        "v_updated_at": now,
    }
    if s.status == MessageStatus.RETRY:
        row["v_next_attempt_at"] = s.next_attempt_at or now
    if s.status in (MessageStatus.SENT, MessageStatus.FAILED):
        row["v_settled_at"] = now
    return row


def _attempt_row(attempt: Attempt) -> dict[str, Any]:
    return {
        "message_id": attempt.message_id,
        "number": attempt.number,
        "worker": attempt.worker,
        "started_at": attempt.started_at,
        "finished_at": attempt.finished_at,
        "outcome": attempt.outcome,
        "reason": attempt.reason,
        "smtp_code": attempt.smtp_code,
        "enhanced_code": attempt.enhanced_code,
        "server_text": attempt.server_text,
        "refused": attempt.refused,
    }


# Columns a new row leaves empty (``_new_row`` does not set them).
_EMPTY_AT_INSERT = dict.fromkeys(
    [
        "lease_owner",
        "lease_expires_at",
        "last_reason",
        "last_smtp_code",
        "last_enhanced_code",
        "last_error",
        "settled_at",
    ]
)


def _just_inserted(row: dict[str, Any]) -> OutboxMessage:
    """The message ``row`` (from ``_new_row``) as a read of the summary columns would give it."""
    stamps = {k: row[k].astimezone(UTC) for k in ("next_attempt_at", "created_at", "updated_at")}
    return _to_message({**row, **stamps, **_EMPTY_AT_INSERT})


def _to_message(row: Mapping[Any, Any]) -> OutboxMessage:
    return OutboxMessage(
        id=row["id"],
        status=MessageStatus(row["status"]),
        idempotency_key=row["idempotency_key"],
        smtp_account_id=row["smtp_account_id"],
        envelope_from=row["envelope_from"],
        envelope_to=tuple(row["envelope_to"]),
        smtputf8=row["smtputf8"],
        message_id=row["message_id"],
        subject=row["subject"],
        customer_id=row["customer_id"],
        flow_run_id=row["flow_run_id"],
        attempt_count=row["attempt_count"],
        next_attempt_at=row["next_attempt_at"],
        lease_owner=row["lease_owner"],
        lease_expires_at=row["lease_expires_at"],
        last_reason=row["last_reason"],
        last_smtp_code=row["last_smtp_code"],
        last_enhanced_code=row["last_enhanced_code"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        settled_at=row["settled_at"],
        data=row.get("data"),
        retry_max_attempts=row.get("retry_max_attempts"),
        retry_base_seconds=row.get("retry_base_seconds"),
    )
