"""``mailcard outbox list|show|retry|cancel``: see and steer what is queued, sent and failed."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.table import Table

from mailcard.cli.runtime import JsonOption, console, container, emit, handled, usage_error
from mailcard.errors import NotFoundError
from mailcard.outbox.model import MessageStatus


def register(app: typer.Typer) -> None:
    outbox = typer.Typer(help="See and steer the outbox.", no_args_is_help=True)
    app.add_typer(outbox, name="outbox")

    @outbox.command("list")
    def list_messages(
        status: str | None = typer.Option(
            None, "--status", help="queued, sending, retry, sent, failed, cancelled"
        ),
        customer: str | None = typer.Option(None, "--customer", help="Only this customer's messages."),
        limit: int = typer.Option(50, "--limit", min=1, max=1000),
        before: str | None = typer.Option(None, "--before", help="Page: messages older than this id."),
        as_json: bool = JsonOption,
    ) -> None:
        """Messages, newest first."""
        try:
            wanted = MessageStatus(status) if status else None
        except ValueError:
            usage_error(
                f"Unknown status {status!r}.", as_json=as_json, hint=", ".join(s.value for s in MessageStatus)
            )
        with handled(as_json=as_json), container() as mailcard:
            messages = mailcard.outbox.list(
                status=wanted, customer_id=customer, limit=limit, before_id=before
            )

            def human() -> None:
                table = Table("id", "status", "to", "subject", "attempts", "reason")
                for m in messages:
                    table.add_row(
                        m.id,
                        m.status.value,
                        ", ".join(m.envelope_to),
                        m.subject,
                        str(m.attempt_count),
                        m.last_reason or "",
                    )
                console.print(table)

            emit({"messages": [m.to_dict() for m in messages]}, as_json=as_json, human=human)

    @outbox.command("show")
    def show(message_id: str, as_json: bool = JsonOption) -> None:
        """One message with every delivery attempt and the server's replies."""
        with handled(as_json=as_json), container() as mailcard:
            message = mailcard.outbox.get(message_id)
            if message is None:
                raise NotFoundError(f"No message with id {message_id}.", code="message_not_found")
            attempts = mailcard.outbox.attempts(message_id)
            data = message.to_dict() | {"attempts": [a.to_dict() for a in attempts]}

            def human() -> None:
                console.print(f"[bold]{message.id}[/] {message.status.value}  {message.subject}")
                console.print(f"  from {message.envelope_from} to {', '.join(message.envelope_to)}")
                console.print(
                    f"  Message-ID {message.message_id}, queued {message.created_at:%Y-%m-%d %H:%M:%S} UTC"
                )
                if message.status in (MessageStatus.QUEUED, MessageStatus.RETRY):
                    console.print(f"  next attempt {message.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC")
                for a in attempts:
                    evidence = " ".join(str(x) for x in (a.smtp_code, a.enhanced_code, a.server_text) if x)
                    console.print(
                        f"  #{a.number} {a.finished_at:%H:%M:%S} {a.outcome} {a.reason or ''} {evidence}"
                    )
                if message.last_error:
                    console.print(f"  {message.last_error}")

            emit(data, as_json=as_json, human=human)

    @outbox.command("retry")
    def retry(message_id: str, as_json: bool = JsonOption) -> None:
        """Queue a failed, cancelled or waiting message to be sent again now."""
        with handled(as_json=as_json), container() as mailcard:
            message = mailcard.outbox.requeue(message_id, now=datetime.now(UTC))
            emit(
                message.to_dict(), as_json=as_json, human=lambda: console.print(f"{message.id} queued again")
            )

    @outbox.command("cancel")
    def cancel(message_id: str, as_json: bool = JsonOption) -> None:
        """Stop a message that has not been sent yet."""
        with handled(as_json=as_json), container() as mailcard:
            message = mailcard.outbox.cancel(message_id, now=datetime.now(UTC))
            emit(message.to_dict(), as_json=as_json, human=lambda: console.print(f"{message.id} cancelled"))
