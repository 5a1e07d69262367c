"""``mailcard event send``: an event in, the runs it starts advanced in this process.

Like ``mailcard send`` it stands on its own: the event and its runs are stored durably first, then
this process advances the runs and delivers their e-mail itself until each run ends or waits (for a
delay, or a retry later), and reports where each run stands. A running ``mailcard run`` or
``mailcard worker`` continues whatever waits. ``--no-wait`` only stores the event.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer

from mailcard import eventloop
from mailcard.cli.runtime import (
    EXIT_FAILED,
    EXIT_OK,
    JsonOption,
    console,
    container,
    emit,
    handled,
    usage_error,
)

if TYPE_CHECKING:
    from mailcard.bootstrap import Container
    from mailcard.flows import FlowEngine

ROUNDS = 100  # each round advances the runs and delivers what they queued; a run ends well before


def register(app: typer.Typer) -> None:
    event = typer.Typer(help="Events that start flows.", no_args_is_help=True)
    app.add_typer(event, name="event")

    @event.command("send")
    def send(
        event_type: str = typer.Argument(..., metavar="TYPE", help="e.g. order.created"),
        customer: str | None = typer.Option(
            None, "--customer", help='The customer\'s id or external id, or a JSON object ({"email": ...}).'
        ),
        data: str = typer.Option("{}", "--data", help="The event's data as a JSON object."),
        event_id: str | None = typer.Option(
            None, "--id", help="Your event id (default: a new one); idempotent."
        ),
        no_wait: bool = typer.Option(
            False, "--no-wait", help="Only store the event; a running worker advances it."
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Send an event: start the active flows it triggers and run them here until they end or wait."""
        try:
            parsed_data = json.loads(data)
        except json.JSONDecodeError as exc:
            usage_error(f"--data is not JSON: {exc}", as_json=as_json)
        except RecursionError:
            usage_error("--data is nested too deeply.", as_json=as_json)
        if not isinstance(parsed_data, dict):
            usage_error("--data must be a JSON object.", as_json=as_json)
        who: int | str | dict[str, Any] | None = customer
        if customer is not None and customer.lstrip().startswith("{"):
            try:
                who = json.loads(customer)
            except json.JSONDecodeError as exc:
                usage_error(f"--customer is not a JSON object: {exc}", as_json=as_json)
            except RecursionError:
                usage_error("--customer is nested too deeply.", as_json=as_json)
        from mailcard.flows import IncomingEvent

        with handled(as_json=as_json), container() as mailcard:
            engine = mailcard.flow_engine()
            accepted = engine.accept(
                IncomingEvent(
                    id=event_id or uuid.uuid4().hex, type=event_type, customer=who, data=parsed_data
                )
            )
            run_ids = [r.id for r in accepted.runs]
            if not no_wait and run_ids:
                eventloop.run(drive(mailcard, engine, run_ids))
            store = engine.store
            runs = [
                r.to_dict() | {"trace": [s.to_dict() for s in store.steps(r.id)]} for r in store.runs(run_ids)
            ]
            result = accepted.event.to_dict() | {
                "duplicate": not accepted.created,
                "runs": runs,
                "skipped": accepted.skipped,
            }

            def human() -> None:
                from mailcard.cli.flow_cmd import print_run

                note = " (already received: nothing new started)" if not accepted.created else ""
                console.print(f"event {accepted.event.id} {event_type}: {len(runs)} run(s){note}")
                for run in runs:
                    print_run(run)
                for skipped in accepted.skipped:
                    console.print(f"  skipped {skipped['flow_id']}: {skipped['reason']}")

            emit(result, as_json=as_json, human=human)
            raise typer.Exit(EXIT_FAILED if any(r["status"] == "failed" for r in runs) else EXIT_OK)


async def drive(mailcard: Container, engine: FlowEngine, run_ids: list[str]) -> None:
    """Advance the runs and deliver the e-mail they queue, until nothing more can happen now."""
    from mailcard.outbox.model import MessageStatus

    worker = mailcard.worker(poll_seconds=0.05)
    try:
        for _ in range(ROUNDS):
            advanced = engine.advance_due(ids=run_ids, limit=len(run_ids))
            now = datetime.now(UTC)
            due = [
                m.id
                for run_id in run_ids
                for m in mailcard.outbox.list(flow_run_id=run_id, limit=100)
                if m.status in (MessageStatus.QUEUED, MessageStatus.RETRY) and m.next_attempt_at <= now
            ]
            if due:
                await worker.run_once(due)
            if not advanced and not due:
                return
    finally:
        await worker.aclose()
