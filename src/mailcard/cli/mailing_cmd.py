"""``mailcard mailing create|show|list|recipients|cancel``: mailings from the shell.

``create`` reads the recipients as JSON Lines (``{"to": "Иван <ivan@example.com>", "context":
{...}}`` or ``{"customer_id": 42}``), stores the mailing (refused whole, exit 1 or 2, when a recipient,
the sender or a template cannot be used) and, like ``mailcard send``, composes and delivers it in this
process, with no server or worker running; ``--no-wait`` only stores it for the workers. Exit 1 when
a recipient was refused or a message failed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from mailcard.cli.runtime import (
    EXIT_FAILED,
    EXIT_OK,
    JsonOption,
    console,
    container,
    emit,
    handled,
    read_body_file,
    run_here,
    usage_error,
)
from mailcard.cli.send_cmd import resolve_account_id

if TYPE_CHECKING:
    from mailcard.bootstrap import Container
    from mailcard.mailings import MailingProgress, RecipientInput, SqlMailingStore


def _recipients(source: str, as_json: bool) -> list[RecipientInput]:
    from mailcard.mailings import RecipientInput

    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        usage_error(f"Cannot read the recipients: {exc}", as_json=as_json)
    recipients = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            usage_error(f"Recipients line {number} is not JSON: {exc}", as_json=as_json)
        if not isinstance(item, dict) or not isinstance(item.get("context", {}), dict):
            usage_error(
                f"Recipients line {number} must be an object such as "
                '{"to": "ivan@example.com", "context": {...}} or {"customer_id": 42}.',
                as_json=as_json,
            )
        to, customer_id = item.get("to"), item.get("customer_id")
        if not isinstance(to, str | None) or not isinstance(customer_id, str | int | None):
            usage_error(
                f"Recipients line {number}: to must be text, customer_id a number or text.", as_json=as_json
            )
        recipients.append(
            RecipientInput(
                to=to,
                customer_id=None if customer_id is None else str(customer_id),
                context=item.get("context"),
            )
        )
    return recipients


async def _send_now(mailcard: Container, store: SqlMailingStore, mailing_id: str) -> MailingProgress:
    """Compose the mailing and deliver it, until every message is settled or waiting to retry; the
    progress then."""
    stop = asyncio.Event()
    worker = mailcard.worker(poll_seconds=0.05)
    unsubscribe = mailcard.outbox.on_enqueue(worker.wake)
    delivering = asyncio.create_task(worker.run(stop))
    try:
        await mailcard.mailing_runner().run(asyncio.Event(), mailing_id=mailing_id)
        while True:
            progress = await asyncio.to_thread(store.progress, mailing_id)
            waiting = progress.messages.get("queued", 0) + progress.messages.get("sending", 0)
            if (progress.cancelled or progress.composed >= progress.recipients) and not waiting:
                return progress
            if progress.composed < progress.recipients and not progress.cancelled:
                # Chunks leased by a server's worker are left to it, unless its lease runs out.
                await mailcard.mailing_runner().run(asyncio.Event(), mailing_id=mailing_id)
            await asyncio.sleep(0.1)
    finally:
        unsubscribe()
        stop.set()
        await delivering
        await worker.aclose()


def _print_progress(progress: MailingProgress) -> None:
    data = progress.to_dict()
    messages = ", ".join(f"{n} {status}" for status, n in data["messages"].items()) or "none yet"
    console.print(
        f"  {data['status']}: {data['composed']}/{data['recipients']} composed, "
        f"{data['refused']} refused; messages: {messages}"
    )


def _failed(progress: MailingProgress) -> bool:
    return progress.refused > 0 or progress.messages.get("failed", 0) > 0


def register(app: typer.Typer) -> None:
    mailing = typer.Typer(help="Mailings: one template to many recipients.", no_args_is_help=True)
    app.add_typer(mailing, name="mailing")

    @mailing.command("create")
    def create(
        name: str = typer.Option(..., "--name", help="What the mailing is called in lists."),
        sender: str = typer.Option(..., "--from", help="Sender, e.g. '客服团队 <support@company.com>'."),
        subject: str | None = typer.Option(None, "--subject", help="Twig (default: the template's)."),
        template_id: int | None = typer.Option(
            None, "--template", min=1, help="A stored template's id: its subject, preheader and bodies."
        ),
        recipients: str = typer.Option(
            ...,
            "--recipients",
            help="JSON Lines file (or - for stdin): {to, context} or {customer_id} a line.",
        ),
        text_file: Path | None = typer.Option(None, "--text-file", help="Twig plain-text body."),
        html_file: Path | None = typer.Option(None, "--html-file", help="Twig HTML body (autoescaped)."),
        preheader: str | None = typer.Option(
            None, "--preheader", help="Twig; inbox preview text, hidden in the body."
        ),
        timezone: str = typer.Option("UTC", "--timezone", help="For the date filters."),
        smtp: str | None = typer.Option(None, "--smtp", help="Saved account name or SMTP URL."),
        smtp_password_env: str | None = typer.Option(
            None, "--smtp-password-env", help="Take the SMTP password from this environment variable."
        ),
        ca_file: str | None = typer.Option(None, "--ca-file", help="CA bundle to verify the SMTP server."),
        no_wait: bool = typer.Option(False, "--no-wait", help="Only store it; running workers send it."),
        as_json: bool = JsonOption,
    ) -> None:
        """Check and store a mailing, then compose and deliver it here (or leave it to the workers)."""
        text = read_body_file(text_file, as_json=as_json)
        html = read_body_file(html_file, as_json=as_json)
        people = _recipients(recipients, as_json)
        with handled(as_json=as_json), container() as mailcard:
            account_id = resolve_account_id(mailcard, smtp, smtp_password_env, ca_file)
            service = mailcard.mailings()
            created, progress = service.create(
                name,
                service.content(
                    sender=sender,
                    template_id=template_id,
                    subject=subject,
                    preheader=preheader,
                    text=text,
                    html=html,
                    timezone=timezone,
                    smtp_account_id=account_id,
                ),
                people,
            )
            if not no_wait:
                progress = run_here(
                    _send_now(mailcard, service.store, created.id),
                    status=f"Sending mailing {created.id} …",
                    as_json=as_json,
                )
            data = {
                "id": created.id,
                "name": created.name,
                "findings": created.findings,
                "progress": progress.to_dict(),
            }

            def human() -> None:
                console.print(f"mailing {created.id} ({created.name})")
                _print_progress(progress)
                for f in created.findings:
                    console.print(f"  [yellow]{f['severity']}[/] {f['code']}: {f['message']}")

            emit(data, as_json=as_json, human=human)
            raise typer.Exit(EXIT_FAILED if _failed(progress) else EXIT_OK)

    @mailing.command("show")
    def show(mailing_id: str, as_json: bool = JsonOption) -> None:
        """A mailing and where its recipients stand."""
        with handled(as_json=as_json), container() as mailcard:
            found, progress = mailcard.mailings().get(mailing_id)
            data = found.to_dict() | {"progress": progress.to_dict()}

            def human() -> None:
                console.print(f"mailing {found.id} ({found.name}), from {found.content.sender}")
                _print_progress(progress)

            emit(data, as_json=as_json, human=human)

    @mailing.command("cancel")
    def cancel(mailing_id: str, as_json: bool = JsonOption) -> None:
        """Stop a mailing: nothing more is composed, its waiting messages are cancelled."""
        with handled(as_json=as_json), container() as mailcard:
            found, progress, cancelled = mailcard.mailings().cancel(mailing_id)
            data = {"id": found.id, "cancelled_messages": cancelled, "progress": progress.to_dict()}

            def human() -> None:
                console.print(
                    f"mailing {found.id} cancelled: {cancelled} waiting message(s) will not be sent"
                )
                _print_progress(progress)

            emit(data, as_json=as_json, human=human)

    @mailing.command("list")
    def list_mailings(
        limit: int = typer.Option(50, "--limit", min=1, max=1000), as_json: bool = JsonOption
    ) -> None:
        """Mailings, newest first."""
        with handled(as_json=as_json), container() as mailcard:
            page, total = mailcard.mailings().store.list(limit=limit, offset=0)
            items = [m.to_dict() | {"progress": p.to_dict()} for m, p in page]

            def human() -> None:
                table = Table("id", "name", "created", "status", "recipients", "sent", "failed", "refused")
                for item in items:
                    p = item["progress"]
                    table.add_row(
                        item["id"],
                        item["name"],
                        item["created_at"][:19],
                        p["status"],
                        str(p["recipients"]),
                        str(p["messages"].get("sent", 0)),
                        str(p["messages"].get("failed", 0)),
                        str(p["refused"]),
                    )
                console.print(table)

            emit({"items": items, "total": total}, as_json=as_json, human=human)

    @mailing.command("recipients")
    def recipients_of(
        mailing_id: str,
        limit: int = typer.Option(100, "--limit", min=1, max=10_000),
        offset: int = typer.Option(0, "--offset", min=0),
        as_json: bool = JsonOption,
    ) -> None:
        """Each recipient in order with its message and status (refused ones with the reason)."""
        with handled(as_json=as_json), container() as mailcard:
            views, _ = mailcard.mailings().recipients(mailing_id, limit=limit, offset=offset)
            items = [v.to_dict() for v in views]

            def human() -> None:
                table = Table("#", "to", "status", "message", "why")
                for v in views:
                    why = v.error["message"] if v.error else ""
                    table.add_row(str(v.seq), v.address, v.status, v.message_id or "", why)
                console.print(table)

            emit({"items": items}, as_json=as_json, human=human)
