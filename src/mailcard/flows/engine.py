"""The flow engine: starts runs for events and advances them block by block, durably.

Owns what each block does at run time and where the run goes next. Every block's effect and the
run's new position are written in one transaction (:meth:`FlowStore.progress`), fenced by the run's
lease, so a crash at any point either loses the whole step (it is done again) or none of it:

* ``send_email`` composes through :class:`~mailcard.compose.Composer` with an idempotency key made of
  the run id and the step number, so doing the step again after a crash finds the same outbox
  message instead of sending a second one. The run then waits; it becomes due again when the outbox
  row settles, and the engine reads that row (status, reason, SMTP code, error) to choose Success or
  Failure and to fill ``email.*`` for later blocks.
* ``delay`` stores the time to continue; nothing is held in memory while waiting.
* ``notify_agent`` creates the task in the same transaction as the step.

It does not deliver e-mail (the delivery worker does) nor schedule itself (:class:`FlowRunner` does).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mailcard.compose import Composer, EmailRequest
from mailcard.db.thread import DatabaseThread
from mailcard.errors import InputError, MailcardError
from mailcard.eventloop import wait_or_timeout
from mailcard.flows.check import CUSTOMER_MANAGER, condition_template
from mailcard.flows.events import email_result, run_context
from mailcard.flows.model import (
    ConditionBlock,
    DelayBlock,
    EndBlock,
    FlowDefinition,
    InlineSmtp,
    NotifyAgentBlock,
    SendEmailBlock,
    SetVariableBlock,
    edges_of,
)
from mailcard.flows.smtp import account_id_for
from mailcard.flows.store import EventRecord, FlowRun, FlowStore, FlowVersion, NewRun, RunUpdate, StepWrite
from mailcard.identity import UserStore
from mailcard.outbox.model import MessageStatus, OutboxMessage
from mailcard.outbox.store import OutboxStore
from mailcard.rendering import RenderOptions, TemplateEngine
from mailcard.smtp_accounts import SmtpAccountStore

__all__ = ["AcceptedEvent", "FlowEngine", "FlowRunner", "IncomingEvent"]

log = logging.getLogger("mailcard.flows")

MAX_STEPS_PER_RUN = 1000  # a loop without a delay must not spin forever
STEPS_PER_CLAIM = 100  # then the run goes back to the queue so others get their turn
_PLAIN = RenderOptions(autoescape=None)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class IncomingEvent:
    """An event from an integration: ``customer`` is an id (or external id), an inline object, or None."""

    id: str
    type: str
    customer: int | str | dict[str, Any] | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AcceptedEvent:
    event: EventRecord
    created: bool  # False: the id was known; nothing new was started
    runs: list[FlowRun]
    skipped: list[dict[str, Any]]  # flows whose trigger condition was false or broken

    def to_dict(self) -> dict[str, Any]:
        return self.event.to_dict() | {
            "duplicate": not self.created,
            "runs": [r.to_dict() for r in self.runs],
            "skipped": self.skipped,
        }


@dataclass(slots=True)
class _Step:
    """What executing one block decided: the trace row, where to go, and what to wait for."""

    write: StepWrite
    next_block: str | None
    status: str = "running"  # running | waiting | completed | failed
    wait_message_id: str | None = None
    next_check_at: datetime | None = None
    error: str | None = None
    task: dict[str, Any] | None = None


class FlowEngine:
    def __init__(
        self,
        store: FlowStore,
        *,
        composer: Composer,
        outbox: OutboxStore,
        accounts: SmtpAccountStore,
        users: UserStore,
        templates: TemplateEngine,
        customers: Callable[[int | str], dict[str, Any] | None],
        system_sender: str,
        lease_seconds: float = 120.0,
        owner: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self._composer = composer
        self._outbox = outbox
        self._accounts = accounts
        self._users = users
        self._templates = templates
        self._customers = customers
        self._system_sender = system_sender
        self._lease_seconds = lease_seconds
        self.owner = owner or f"flows:{socket.gethostname()}:{os.getpid()}"
        self._clock = clock
        self._definitions: dict[tuple[str, int], FlowDefinition] = {}

    # -- events --------------------------------------------------------------------------------------

    def accept(self, incoming: IncomingEvent, *, received_by: int | None = None) -> AcceptedEvent:
        """Store the event (idempotent on its id) and start a run of every matching active flow."""
        customer, customer_id = self._customer(incoming.customer)
        event = {"id": incoming.id, "type": incoming.type, "data": incoming.data}
        skipped: list[dict[str, Any]] = []

        def plan(versions: list[FlowVersion]) -> list[NewRun]:
            runs = []
            for version in versions:
                definition = self._definition(version.flow_id, version.version, version.definition)
                base = {
                    "customer": customer,
                    "event": event,
                    "vars": {},
                    "email": email_result(),
                    "flow": {"id": definition.id, "version": version.version},
                }
                condition = definition.trigger.condition
                if condition:
                    try:
                        if not self._truth(condition, base):
                            skipped.append({"flow_id": definition.id, "reason": "condition_false"})
                            continue
                    except MailcardError as error:
                        skipped.append(
                            {"flow_id": definition.id, "reason": error.code, "message": error.message}
                        )
                        continue
                runs.append(NewRun(version.flow_id, version.version, definition.start_block, base))
            return runs

        record, created = self.store.accept_event(
            event_id=incoming.id,
            event_type=incoming.type,
            customer_id=customer_id,
            customer=customer,
            data=incoming.data,
            received_by=received_by,
            now=self._clock(),
            plan_runs=plan,
        )
        return AcceptedEvent(record, created, self.store.runs(record.run_ids), skipped if created else [])

    def _customer(self, given: int | str | dict[str, Any] | None) -> tuple[dict[str, Any] | None, str | None]:
        if given is None:
            return None, None
        if isinstance(given, dict):
            found = given.get("id")
            return dict(given), str(found) if found is not None else None
        loaded = self._customers(given)
        if loaded is None:
            raise InputError(
                f"No customer with id {given!r}.",
                code="customer_not_found",
                hint="Send the customer's id or external id, or the customer inline as an object.",
            )
        return loaded, str(loaded.get("id", given))

    # -- runs ----------------------------------------------------------------------------------------

    def advance_due(self, *, limit: int = 64, ids: list[str] | None = None) -> list[str]:
        """Claim due runs and advance each until it waits or ends; returns the ids advanced."""
        claimed = self.store.claim_runs(
            self.owner, limit=limit, lease_seconds=self._lease_seconds, now=self._clock(), ids=ids
        )
        for run in claimed:
            try:
                self._advance(run)
            except Exception as exc:  # a bug in one run must not stop the others; it is shown on the run
                log.exception("flow run %s failed unexpectedly", run.id)
                self.store.progress(
                    self.owner,
                    run.id,
                    None,
                    RunUpdate(
                        status="failed",
                        block_id=run.block_id,
                        context=run.context,
                        step_count=run.step_count,
                        next_check_at=self._clock(),
                        error=f"internal error: {exc}",
                        release=True,
                    ),
                    now=self._clock(),
                )
        return [run.id for run in claimed]

    def _advance(self, run: FlowRun) -> None:
        definition = self._definition(run.flow_id, run.version)
        context = dict(run.context)
        step_count = run.step_count
        block_id = run.block_id
        if run.wait_message_id is not None:
            resumed = self._resume_send(run, definition, context)
            if resumed is None:
                return
            if resumed.status == "running" and resumed.next_block is None:
                resumed.status = "completed"
            if not self._commit(run, resumed, context, step_count):
                return
            if resumed.status != "running":
                return
            block_id = resumed.next_block
        for _ in range(STEPS_PER_CLAIM):
            now = self._clock()
            if block_id is None:
                self._commit(
                    run,
                    None,
                    context,
                    step_count,
                    RunUpdate("completed", None, context, step_count, now, release=True),
                )
                return
            if step_count >= MAX_STEPS_PER_RUN:
                error = f"the run took {MAX_STEPS_PER_RUN} steps; a loop without a delay?"
                self._commit(
                    run,
                    None,
                    context,
                    step_count,
                    RunUpdate("failed", block_id, context, step_count, now, error=error, release=True),
                )
                return
            step_count += 1
            step = self._execute(run, definition.block(block_id), context, step_count)
            if step.status == "running" and step.next_block is None:
                step.status = "completed"  # no edge to follow: the run ends here
            if not self._commit(run, step, context, step_count):
                return
            if step.status != "running":
                return
            block_id = step.next_block
        # Long enough for this claim: back to the queue, due at once.
        self._commit(
            run,
            None,
            context,
            step_count,
            RunUpdate("running", block_id, context, step_count, self._clock(), release=True),
        )

    def _commit(
        self,
        run: FlowRun,
        step: _Step | None,
        context: dict[str, Any],
        step_count: int,
        change: RunUpdate | None = None,
    ) -> bool:
        now = self._clock()
        if change is None:
            assert step is not None
            status = step.status
            change = RunUpdate(
                status=status,
                block_id=step.next_block,
                context=context,
                step_count=step_count,
                next_check_at=step.next_check_at or now,
                wait_message_id=step.wait_message_id,
                error=step.error,
                release=status != "running",
            )
        if step is not None and step.task is not None:
            held = (
                self.store.progress_with_task(self.owner, run.id, step.write, change, step.task, now=now)
                is not None
            )
        else:
            held = self.store.progress(self.owner, run.id, step.write if step else None, change, now=now)
        if not held:
            log.warning("flow run %s: lease lost to another process; leaving it to them", run.id)
        return held

    # -- blocks --------------------------------------------------------------------------------------

    def _execute(self, run: FlowRun, block: Any, context: dict[str, Any], seq: int) -> _Step:
        now = self._clock()
        if isinstance(block, SendEmailBlock):
            return self._send_email(run, block, context, seq, now)
        if isinstance(block, ConditionBlock):
            try:
                result = self._truth(block.expression, context)
            except MailcardError as error:
                return self._broken(block, seq, now, {"expression": block.expression}, error)
            edge = "true" if result else "false"
            return _Step(
                _instant(block, seq, edge, {"expression": block.expression}, {"result": result}, now),
                edges_of(block)[edge],
            )
        if isinstance(block, DelayBlock):
            until = now + timedelta(seconds=block.total_seconds)
            return _Step(
                _instant(
                    block, seq, "next", {"seconds": block.total_seconds}, {"until": until.isoformat()}, now
                ),
                block.next,
                status="waiting",
                next_check_at=until,
            )
        if isinstance(block, SetVariableBlock):
            try:
                value = self._render(block.value, context) if isinstance(block.value, str) else block.value
            except MailcardError as error:
                return self._broken(block, seq, now, {"name": block.name, "value": block.value}, error)
            context["vars"] = dict(context.get("vars") or {}) | {block.name: value}
            return _Step(
                _instant(
                    block, seq, "next", {"name": block.name, "value": block.value}, {"value": value}, now
                ),
                block.next,
            )
        if isinstance(block, NotifyAgentBlock):
            return self._notify_agent(run, block, context, seq, now)
        assert isinstance(block, EndBlock)
        return _Step(_instant(block, seq, None, {}, {}, now), None, status="completed")

    def _broken(
        self, block: Any, seq: int, now: datetime, given: dict[str, Any], error: MailcardError
    ) -> _Step:
        """A block that cannot run (a template error at run time): the run fails, saying why."""
        return _Step(
            _instant(block, seq, None, given, {"error": error.to_dict()}, now),
            block.id,
            status="failed",
            error=f"{block.id}: {error.message}",
        )

    def _send_email(
        self, run: FlowRun, block: SendEmailBlock, context: dict[str, Any], seq: int, now: datetime
    ) -> _Step:
        given: dict[str, Any] = {
            "to": block.to,
            "from": block.sender,
            "subject": block.subject,
            "smtp": _smtp_label(block),
        }
        if block.retry is not None:
            given["retry"] = block.retry.model_dump()
        try:
            variables = self._variables(context)
            to = self._templates.render(block.to, variables, _PLAIN)
            sender = self._templates.render(block.sender, variables, _PLAIN)
            given |= {"to": to, "from": sender}
            submission = self._composer.submit(
                EmailRequest(
                    sender=sender,
                    to=to,
                    subject=block.subject,
                    text=block.text,
                    html=block.html,
                    preheader=block.preheader,
                    context=variables,
                    idempotency_key=f"flow-run:{run.id}:{seq}",
                    smtp_account_id=account_id_for(block, self._accounts),
                    customer_id=run.customer_id,
                    flow_run_id=run.id,
                    retry_max_attempts=block.retry.attempts if block.retry else None,
                    retry_base_seconds=block.retry.backoff_seconds if block.retry else None,
                )
            )
        except MailcardError as error:
            # Nothing reached the outbox (bad address, template, blocked content, unknown account):
            # the Failure branch, with the reason, exactly as for a refused delivery.
            email = email_result("failed", reason=error.code, message=error.message)
            context["email"] = email
            return self._after_send(block, seq, now, given, email, success=False)
        message = submission.message
        output = {
            "outbox_id": message.id,
            "message_id": message.message_id,
            "status": "waiting",
            "warnings": [f.to_dict() for f in submission.findings if f.severity == "warning"],
        }
        given["subject"] = message.subject
        return _Step(
            StepWrite(seq, block.id, block.type, None, given, output, now, None),
            block.id,
            status="waiting",
            wait_message_id=message.id,
        )

    def _resume_send(self, run: FlowRun, definition: FlowDefinition, context: dict[str, Any]) -> _Step | None:
        """The outbox has settled the message this run waits for: Success or Failure."""
        assert run.wait_message_id is not None and run.block_id is not None
        message = self._outbox.get(run.wait_message_id)
        now = self._clock()
        if message is None or not message.status.settled:
            # Claimed only because an earlier owner's lease expired: keep waiting.
            self.store.progress(
                self.owner,
                run.id,
                None,
                RunUpdate(
                    "waiting",
                    run.block_id,
                    context,
                    run.step_count,
                    now,
                    wait_message_id=run.wait_message_id,
                    release=True,
                ),
                now=now,
            )
            return None
        block = definition.block(run.block_id)
        assert isinstance(block, SendEmailBlock)
        email = _email_outcome(message)
        context["email"] = email
        step = self._after_send(
            block, run.step_count, now, {}, email, success=message.status == MessageStatus.SENT
        )
        step.write = StepWrite(
            run.step_count,
            block.id,
            block.type,
            step.write.edge,
            {},
            step.write.output
            | {"outbox_id": message.id, "message_id": message.message_id, "attempts": message.attempt_count},
            now,
            now,
            complete_existing=True,
        )
        return step

    def _after_send(
        self,
        block: SendEmailBlock,
        seq: int,
        now: datetime,
        given: dict[str, Any],
        email: dict[str, Any],
        *,
        success: bool,
    ) -> _Step:
        edge = "success" if success else "failure"
        target = block.on_success if success else block.on_failure
        output = {"status": email["status"], "error": email["error"]}
        step = _Step(_instant(block, seq, edge, given, output, now), target)
        if not success and target is None:
            error = email["error"]
            step.status = "failed"
            step.error = f"{block.id}: the e-mail failed ({error['reason']}): {error['message']}"
        return step

    def _notify_agent(
        self, run: FlowRun, block: NotifyAgentBlock, context: dict[str, Any], seq: int, now: datetime
    ) -> _Step:
        given = {"assignee": block.assignee, "task": block.task, "email": block.email}
        try:
            variables = self._variables(context)
            title = " ".join(self._templates.render(block.task, variables, _PLAIN).split())
            body = self._templates.render(block.message, variables, _PLAIN)
        except MailcardError as error:
            return self._broken(block, seq, now, given, error)
        assignee = self._assignee(block.assignee, context)
        output: dict[str, Any] = {"title": title, "assignee_id": assignee.id if assignee else None}
        notify_message_id: str | None = None
        if block.email and assignee is not None:
            try:
                notified = self._composer.submit(
                    EmailRequest(
                        sender=self._system_sender,
                        to=assignee.email,
                        subject=f"Task: {title}",
                        text=f"{body}\n\nFlow {run.flow_id}, run {run.id}.\n",
                        idempotency_key=f"flow-run:{run.id}:{seq}:notify",
                        flow_run_id=run.id,
                    )
                )
                notify_message_id = notified.message.id
                output["notify_message_id"] = notify_message_id
            except MailcardError as error:  # the task still exists; say why nobody was e-mailed
                output["notify_error"] = error.to_dict()
        task = {
            "run_id": run.id,
            "flow_id": run.flow_id,
            "block_id": block.id,
            "assignee_id": assignee.id if assignee else None,
            "title": title,
            "body": body,
            "details": {
                "email": context.get("email"),
                "customer": context.get("customer"),
                "event": {k: v for k, v in (context.get("event") or {}).items() if k != "data"},
            },
            "notify_message_id": notify_message_id,
        }
        return _Step(_instant(block, seq, "next", given, output, now), block.next, task=task)

    def _assignee(self, assignee: str, context: Mapping[str, Any]) -> Any:
        if assignee == CUSTOMER_MANAGER:
            manager_id = (context.get("customer") or {}).get("managerId")
            if manager_id is None:
                return None  # unassigned: admins see every task
            try:
                return self._users.get(int(manager_id))
            except MailcardError:
                return None
        return self._users.by_login(assignee)

    # -- helpers -------------------------------------------------------------------------------------

    def _variables(self, context: Mapping[str, Any]) -> dict[str, Any]:
        return run_context(
            customer=context.get("customer"),
            event=context.get("event") or {},
            flow=context.get("flow") or {},
            variables=context.get("vars"),
            email=context.get("email"),
        )

    def _render(self, source: str, context: Mapping[str, Any]) -> str:
        return self._templates.render(source, self._variables(context), _PLAIN)

    def _truth(self, expression: str, context: Mapping[str, Any]) -> bool:
        return self._render(condition_template(expression), context) == "1"

    def _definition(self, flow_id: str, version: int, stored: dict[str, Any] | None = None) -> FlowDefinition:
        key = (flow_id, version)
        definition = self._definitions.get(key)
        if definition is None:
            data = stored if stored is not None else self.store.version(flow_id, version).definition
            definition = self._definitions[key] = FlowDefinition.model_validate(data)
        return definition


def _email_outcome(message: OutboxMessage) -> dict[str, Any]:
    if message.status == MessageStatus.SENT:
        return email_result("sent", outbox_id=message.id, message_id=message.message_id)
    reason = message.last_reason or ("cancelled" if message.status == MessageStatus.CANCELLED else "failed")
    return email_result(
        "failed",
        outbox_id=message.id,
        message_id=message.message_id,
        reason=reason,
        smtp_code=message.last_smtp_code,
        message=message.last_error or ("The message was cancelled." if reason == "cancelled" else None),
    )


def _smtp_label(block: SendEmailBlock) -> str:
    smtp = block.smtp
    if smtp is None:
        return "default"
    if isinstance(smtp, str):
        return smtp
    assert isinstance(smtp, InlineSmtp)
    user = f"{smtp.username}@" if smtp.username else ""
    return f"{user}{smtp.host}:{smtp.port} ({smtp.resolved_security()})"


class FlowRunner:
    """Advances due runs until stopped: one loop per process, beside the delivery worker.

    Several runners (processes, machines) share the runs safely through the store's leases. Database
    work runs in one helper thread, so the event loop (API, delivery) never blocks on it.
    """

    def __init__(self, engine: FlowEngine, *, poll_seconds: float = 0.5, batch_size: int = 64) -> None:
        self._engine = engine
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._db = DatabaseThread("mailcard-flows")
        self.advanced = 0

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    advanced = await self._db.call(self._engine.advance_due, limit=self._batch_size)
                except Exception:  # the database may be briefly unavailable; keep the loop alive
                    log.exception("advancing flow runs failed; trying again")
                    advanced = []
                self.advanced += len(advanced)
                if not advanced:
                    await wait_or_timeout(stop, self._poll_seconds)
        finally:
            self._db.shutdown()


def _instant(
    block: Any, seq: int, edge: str | None, given: dict[str, Any], output: dict[str, Any], now: datetime
) -> StepWrite:
    """The trace of a step that starts and finishes at ``now`` (every block but a waiting one)."""
    return StepWrite(seq, block.id, block.type, edge, given, output, now, now)
