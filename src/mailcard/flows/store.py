"""Flows, their versions, events, runs with their trace, and agent tasks, on SQLite or PostgreSQL.

This module owns the SQL and the run lease: :meth:`FlowStore.claim_runs` leases due runs the way the
outbox leases messages (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on SQLite), and every
write of a run's progress is fenced by the lease owner, so two processes never advance one run twice.
A run waiting on an e-mail becomes due when its outbox row settles: the outcome is read as data.
It does not decide what a block does; :mod:`mailcard.flows.engine` does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from mailcard.db.engine import reading
from mailcard.db.rows import from_row
from mailcard.db.schema import (
    agent_tasks,
    events,
    flow_run_steps,
    flow_runs,
    flow_versions,
    flows,
    outbox_messages,
)
from mailcard.errors import ConflictError, NotFoundError
from mailcard.outbox.model import MessageStatus, new_message_id

__all__ = [
    "AgentTask",
    "EventRecord",
    "FlowRecord",
    "FlowRun",
    "FlowStore",
    "FlowVersion",
    "NewRun",
    "RunStep",
    "RunUpdate",
    "StepWrite",
]

_SETTLED = [MessageStatus.SENT.value, MessageStatus.FAILED.value, MessageStatus.CANCELLED.value]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@dataclass(frozen=True, slots=True)
class FlowRecord:
    id: str
    name: str
    active: bool
    current_version: int | None
    trigger_event: str | None
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "active": self.active,
            "version": self.current_version,
            "trigger_event": self.trigger_event,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class FlowVersion:
    flow_id: str
    version: int
    definition: dict[str, Any]
    digest: str
    findings: list[dict[str, Any]]
    created_by: int | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "flow_id": self.flow_id,
            "version": self.version,
            "definition": self.definition,
            "findings": self.findings,
            "created_by": self.created_by,
            "created_at": _iso(self.created_at),
        }


@dataclass(frozen=True, slots=True)
class EventRecord:
    id: str
    type: str
    customer_id: str | None
    customer: dict[str, Any] | None
    data: dict[str, Any]
    run_ids: list[str]
    received_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "customer_id": self.customer_id,
            "data": self.data,
            "run_ids": self.run_ids,
            "received_at": _iso(self.received_at),
        }


@dataclass(frozen=True, slots=True)
class NewRun:
    flow_id: str
    version: int
    block_id: str
    context: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FlowRun:
    id: str
    flow_id: str
    version: int
    event_id: str | None
    customer_id: str | None
    status: str  # running | waiting | completed | failed
    block_id: str | None
    context: dict[str, Any]
    step_count: int
    wait_message_id: str | None
    next_check_at: datetime
    error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "flow_id": self.flow_id,
            "version": self.version,
            "event_id": self.event_id,
            "customer_id": self.customer_id,
            "status": self.status,
            "block_id": self.block_id,
            "waiting_for": (
                {"outbox_id": self.wait_message_id}
                if self.wait_message_id
                else ({"until": _iso(self.next_check_at)} if self.status == "waiting" else None)
            ),
            "variables": self.context.get("vars", {}),
            "email": self.context.get("email"),
            "steps": self.step_count,
            "error": self.error,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "finished_at": _iso(self.finished_at),
        }


@dataclass(frozen=True, slots=True)
class RunStep:
    seq: int
    block_id: str
    block_type: str
    edge: str | None
    input: dict[str, Any]
    output: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "block_id": self.block_id,
            "block_type": self.block_type,
            "edge": self.edge,
            "input": self.input,
            "output": self.output,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
        }


@dataclass(frozen=True, slots=True)
class StepWrite:
    """A trace row to insert (``seq`` new) or to complete (``seq`` of the step that was waiting)."""

    seq: int
    block_id: str
    block_type: str
    edge: str | None
    input: dict[str, Any]
    output: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None
    complete_existing: bool = False


@dataclass(frozen=True, slots=True)
class RunUpdate:
    """Where a run goes after a step; written in the same transaction as the step."""

    status: str
    block_id: str | None
    context: dict[str, Any]
    step_count: int
    next_check_at: datetime
    wait_message_id: str | None = None
    error: str | None = None
    release: bool = False  # give the lease back (the run waits or is finished)


@dataclass(frozen=True, slots=True)
class AgentTask:
    id: int
    run_id: str | None
    flow_id: str | None
    block_id: str | None
    assignee_id: int | None
    title: str
    body: str
    details: dict[str, Any]
    status: str
    notify_message_id: str | None
    created_at: datetime
    done_at: datetime | None
    done_by: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "run_id": self.run_id,
            "flow_id": self.flow_id,
            "block_id": self.block_id,
            "assignee_id": self.assignee_id,
            "title": self.title,
            "body": self.body,
            "details": self.details,
            "status": self.status,
            "notify_message_id": self.notify_message_id,
            "created_at": _iso(self.created_at),
            "done_at": _iso(self.done_at),
            "done_by": self.done_by,
        }


class FlowStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    # -- flows and versions --------------------------------------------------------------------------

    def save_version(
        self,
        *,
        flow_id: str,
        name: str,
        trigger_event: str,
        definition: dict[str, Any],
        digest: str,
        findings: list[dict[str, Any]],
        user_id: int | None,
        now: datetime,
    ) -> tuple[FlowVersion, bool]:
        """Activate ``definition``: a new version when it differs from the current one."""
        with self._engine.begin() as conn:
            flow = conn.execute(select(flows).where(flows.c.id == flow_id)).first()
            if flow is None:
                conn.execute(
                    insert(flows).values(id=flow_id, name=name, active=False, created_at=now, updated_at=now)
                )
                current = None
            else:
                current = flow.current_version
            created = True
            version = (current or 0) + 1
            if current is not None:
                current_digest = conn.execute(
                    select(flow_versions.c.digest).where(
                        flow_versions.c.flow_id == flow_id, flow_versions.c.version == current
                    )
                ).scalar_one()
                if current_digest == digest:
                    created, version = False, current
            if created:
                conn.execute(
                    insert(flow_versions).values(
                        flow_id=flow_id,
                        version=version,
                        definition=definition,
                        digest=digest,
                        findings=findings,
                        created_by=user_id,
                        created_at=now,
                    )
                )
            conn.execute(
                update(flows)
                .where(flows.c.id == flow_id)
                .values(
                    name=name,
                    active=True,
                    current_version=version,
                    trigger_event=trigger_event,
                    updated_at=now,
                )
            )
            saved = self._version(conn, flow_id, version)
        return saved, created

    def set_active(self, flow_id: str, active: bool, *, now: datetime) -> FlowRecord:
        with self._engine.begin() as conn:
            flow = self._flow(conn, flow_id)
            if active and flow.current_version is None:
                raise ConflictError(f"Flow {flow_id} has no version to activate.", code="flow_has_no_version")
            conn.execute(update(flows).where(flows.c.id == flow_id).values(active=active, updated_at=now))
            return self._flow(conn, flow_id)

    def get_flow(self, flow_id: str) -> FlowRecord:
        with reading(self._engine) as conn:
            return self._flow(conn, flow_id)

    def list_flows(self) -> list[FlowRecord]:
        with reading(self._engine) as conn:
            return [_flow(r._mapping) for r in conn.execute(select(flows).order_by(flows.c.id))]

    def versions(self, flow_id: str) -> list[FlowVersion]:
        with reading(self._engine) as conn:
            self._flow(conn, flow_id)
            rows = conn.execute(
                select(flow_versions)
                .where(flow_versions.c.flow_id == flow_id)
                .order_by(flow_versions.c.version.desc())
            )
            return [_version(r._mapping) for r in rows]

    def version(self, flow_id: str, version: int) -> FlowVersion:
        with reading(self._engine) as conn:
            return self._version(conn, flow_id, version)

    def _flow(self, conn: Connection, flow_id: str) -> FlowRecord:
        row = conn.execute(select(flows).where(flows.c.id == flow_id)).first()
        if row is None:
            raise NotFoundError(f"No flow with id {flow_id!r}.", code="flow_not_found")
        return _flow(row._mapping)

    def _version(self, conn: Connection, flow_id: str, version: int) -> FlowVersion:
        row = conn.execute(
            select(flow_versions).where(
                flow_versions.c.flow_id == flow_id, flow_versions.c.version == version
            )
        ).first()
        if row is None:
            raise NotFoundError(f"Flow {flow_id!r} has no version {version}.", code="flow_version_not_found")
        return _version(row._mapping)

    # -- events --------------------------------------------------------------------------------------

    def accept_event(
        self,
        *,
        event_id: str,
        event_type: str,
        customer_id: str | None,
        customer: dict[str, Any] | None,
        data: dict[str, Any],
        received_by: int | None,
        now: datetime,
        plan_runs: Callable[[list[FlowVersion]], list[NewRun]],
    ) -> tuple[EventRecord, bool]:
        """Store the event and start its runs in one transaction; a known id returns the first record.

        ``plan_runs`` gets the current versions of the active flows for the event type and returns the
        runs to start (the engine evaluates trigger conditions).
        """
        with self._engine.begin() as conn:
            known = conn.execute(select(events).where(events.c.id == event_id)).first()
            if known is not None:
                return _event(known._mapping), False
            inserted = conn.execute(
                self._insert_ignoring_known(events, "id")
                .values(
                    id=event_id,
                    type=event_type,
                    customer_id=customer_id,
                    customer=customer,
                    data=data,
                    run_ids=[],
                    received_by=received_by,
                    received_at=now,
                )
                .returning(events.c.id)
            ).first()
            if inserted is None:  # another process stored the same id between our read and insert
                return _event(
                    conn.execute(select(events).where(events.c.id == event_id)).one()._mapping
                ), False
            active = conn.execute(
                select(flow_versions)
                .join(
                    flows,
                    and_(
                        flows.c.id == flow_versions.c.flow_id,
                        flows.c.current_version == flow_versions.c.version,
                    ),
                )
                .where(flows.c.trigger_event == event_type, flows.c.active.is_(True))
                .order_by(flows.c.id)
            ).all()
            planned = plan_runs([_version(r._mapping) for r in active])
            run_ids = [new_message_id() for _ in planned]
            if planned:
                conn.execute(
                    insert(flow_runs),
                    [
                        {
                            "id": run_id,
                            "flow_id": run.flow_id,
                            "version": run.version,
                            "event_id": event_id,
                            "customer_id": customer_id,
                            "status": "running",
                            "block_id": run.block_id,
                            "context": _with_run_id(run.context, run_id),
                            "step_count": 0,
                            "next_check_at": now,
                            "created_at": now,
                            "updated_at": now,
                        }
                        for run_id, run in zip(run_ids, planned, strict=True)
                    ],
                )
            conn.execute(update(events).where(events.c.id == event_id).values(run_ids=run_ids))
            stored = conn.execute(select(events).where(events.c.id == event_id)).one()
        return _event(stored._mapping), True

    def get_event(self, event_id: str) -> EventRecord:
        with reading(self._engine) as conn:
            row = conn.execute(select(events).where(events.c.id == event_id)).first()
        if row is None:
            raise NotFoundError(f"No event with id {event_id!r}.", code="event_not_found")
        return _event(row._mapping)

    def _insert_ignoring_known(self, table: Any, key: str) -> Any:
        if self._dialect == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing(index_elements=[key])
        if self._dialect == "sqlite":
            return sqlite.insert(table).on_conflict_do_nothing(index_elements=[key])
        return insert(table)

    # -- runs ----------------------------------------------------------------------------------------

    def claim_runs(
        self,
        owner: str,
        *,
        limit: int,
        lease_seconds: float,
        now: datetime,
        ids: Sequence[str] | None = None,
    ) -> list[FlowRun]:
        """Lease due runs: running or waiting runs whose time has come or whose e-mail has settled,
        and runs whose previous owner's lease expired (it crashed)."""
        r = flow_runs
        settled = exists().where(
            outbox_messages.c.id == r.c.wait_message_id, outbox_messages.c.status.in_(_SETTLED)
        )
        due = and_(
            r.c.status.in_(["running", "waiting"]),
            or_(r.c.lease_owner.is_(None), r.c.lease_expires_at < now),
            or_(and_(r.c.wait_message_id.is_(None), r.c.next_check_at <= now), settled),
        )
        candidates = select(r.c.id).where(due).order_by(r.c.next_check_at).limit(limit)
        if ids is not None:
            candidates = candidates.where(r.c.id.in_(list(ids)))
        if self._dialect == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        statement = (
            update(r)
            .where(r.c.id.in_(candidates.scalar_subquery()))
            .values(
                lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds), updated_at=now
            )
            .returning(*r.c)
        )
        with self._engine.begin() as conn:
            rows = conn.execute(statement).all()
        return sorted((_run(row._mapping) for row in rows), key=lambda run: run.next_check_at)

    def progress(
        self, owner: str, run_id: str, step: StepWrite | None, change: RunUpdate, *, now: datetime
    ) -> bool:
        """Write a step and the run's new state atomically; False when ``owner`` lost the lease."""
        with self._engine.begin() as conn:
            if not self._move(conn, owner, run_id, change, now):
                conn.rollback()
                return False
            if step is not None:
                self._write_step(conn, run_id, step)
        return True

    def progress_with_task(
        self,
        owner: str,
        run_id: str,
        step: StepWrite,
        change: RunUpdate,
        task: dict[str, Any],
        *,
        now: datetime,
    ) -> int | None:
        """Like :meth:`progress`, also creating an agent task in the same transaction (so a crash
        cannot create it twice); returns the task id, or None when the lease was lost."""
        with self._engine.begin() as conn:
            if not self._move(conn, owner, run_id, change, now):
                conn.rollback()
                return None
            task_id = int(
                conn.execute(
                    insert(agent_tasks)
                    .values(status="open", created_at=now, **task)
                    .returning(agent_tasks.c.id)
                ).scalar_one()
            )
            output = dict(step.output) | {"task_id": task_id}
            self._write_step(conn, run_id, replace(step, output=output))
        return task_id

    def _move(self, conn: Connection, owner: str, run_id: str, change: RunUpdate, now: datetime) -> bool:
        values: dict[str, Any] = {
            "status": change.status,
            "block_id": change.block_id,
            "context": change.context,
            "step_count": change.step_count,
            "wait_message_id": change.wait_message_id,
            "next_check_at": change.next_check_at,
            "error": change.error,
            "updated_at": now,
        }
        if change.status in ("completed", "failed"):
            values["finished_at"] = now
        if change.release:
            values.update(lease_owner=None, lease_expires_at=None)
        moved = conn.execute(
            update(flow_runs)
            .where(flow_runs.c.id == run_id, flow_runs.c.lease_owner == owner)
            .values(**values)
        )
        return bool(moved.rowcount)

    def _write_step(self, conn: Connection, run_id: str, step: StepWrite) -> None:
        if step.complete_existing:
            where = (flow_run_steps.c.run_id == run_id, flow_run_steps.c.seq == step.seq)
            # Keep what the step recorded when it started waiting (e.g. content warnings).
            started = conn.execute(select(flow_run_steps.c.output).where(*where)).scalar_one_or_none() or {}
            conn.execute(
                update(flow_run_steps)
                .where(*where)
                .values(edge=step.edge, output=dict(started) | step.output, finished_at=step.finished_at)
            )
            return
        conn.execute(
            insert(flow_run_steps).values(
                run_id=run_id,
                seq=step.seq,
                block_id=step.block_id,
                block_type=step.block_type,
                edge=step.edge,
                input=step.input,
                output=step.output,
                started_at=step.started_at,
                finished_at=step.finished_at,
            )
        )

    def get_run(self, run_id: str) -> FlowRun:
        with reading(self._engine) as conn:
            row = conn.execute(select(flow_runs).where(flow_runs.c.id == run_id)).first()
        if row is None:
            raise NotFoundError(f"No flow run with id {run_id!r}.", code="flow_run_not_found")
        return _run(row._mapping)

    def runs(self, ids: Sequence[str]) -> list[FlowRun]:
        with reading(self._engine) as conn:
            rows = conn.execute(select(flow_runs).where(flow_runs.c.id.in_(list(ids)))).all()
        found = {row.id: _run(row._mapping) for row in rows}
        return [found[i] for i in ids if i in found]

    def list_runs(
        self, *, flow_id: str | None = None, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[FlowRun], int]:
        query = select(flow_runs)
        counted = select(func.count()).select_from(flow_runs)
        if flow_id is not None:
            query, counted = (
                query.where(flow_runs.c.flow_id == flow_id),
                counted.where(flow_runs.c.flow_id == flow_id),
            )
        if status is not None:
            query, counted = (
                query.where(flow_runs.c.status == status),
                counted.where(flow_runs.c.status == status),
            )
        with reading(self._engine) as conn:
            rows = conn.execute(query.order_by(flow_runs.c.id.desc()).limit(limit).offset(offset)).all()
            total = int(conn.execute(counted).scalar_one())
        return [_run(r._mapping) for r in rows], total

    def steps(self, run_id: str) -> list[RunStep]:
        with reading(self._engine) as conn:
            rows = conn.execute(
                select(flow_run_steps).where(flow_run_steps.c.run_id == run_id).order_by(flow_run_steps.c.seq)
            ).all()
        return [from_row(RunStep, r._mapping) for r in rows]

    def counts(self) -> dict[str, int]:
        with reading(self._engine) as conn:
            rows = conn.execute(select(flow_runs.c.status, func.count()).group_by(flow_runs.c.status)).all()
        return {status: int(count) for status, count in rows}

    # -- agent tasks ---------------------------------------------------------------------------------

    def tasks(
        self, *, assignee_id: int | None = None, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[AgentTask], int]:
        query = select(agent_tasks)
        counted = select(func.count()).select_from(agent_tasks)
        conditions = []
        if assignee_id is not None:
            conditions.append(agent_tasks.c.assignee_id == assignee_id)
        if status is not None:
            conditions.append(agent_tasks.c.status == status)
        if conditions:
            query, counted = query.where(*conditions), counted.where(*conditions)
        with reading(self._engine) as conn:
            rows = conn.execute(query.order_by(agent_tasks.c.id.desc()).limit(limit).offset(offset)).all()
            total = int(conn.execute(counted).scalar_one())
        return [_task(r._mapping) for r in rows], total

    def task(self, task_id: int) -> AgentTask:
        with reading(self._engine) as conn:
            row = conn.execute(select(agent_tasks).where(agent_tasks.c.id == task_id)).first()
        if row is None:
            raise NotFoundError(f"No task with id {task_id}.", code="task_not_found")
        return _task(row._mapping)

    def complete_task(self, task_id: int, user_id: int | None, *, now: datetime) -> AgentTask:
        with self._engine.begin() as conn:
            conn.execute(
                update(agent_tasks)
                .where(agent_tasks.c.id == task_id, agent_tasks.c.status == "open")
                .values(status="done", done_at=now, done_by=user_id)
            )
        return self.task(task_id)


def _with_run_id(context: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    flow = dict(context.get("flow") or {}) | {"run_id": run_id}
    return dict(context) | {"flow": flow}


def _flow(row: Any) -> FlowRecord:
    return from_row(FlowRecord, row)


def _version(row: Any) -> FlowVersion:
    return from_row(FlowVersion, row)


def _event(row: Any) -> EventRecord:
    return from_row(EventRecord, row, run_ids=list(row["run_ids"] or []))


def _run(row: Any) -> FlowRun:
    return from_row(FlowRun, row)


def _task(row: Any) -> AgentTask:
    return from_row(AgentTask, row)
