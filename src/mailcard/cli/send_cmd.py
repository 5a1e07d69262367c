"""``mailcard send``: one message through the outbox, delivered in-process unless ``--no-wait``.

It stands on its own: no server or worker needs to run. The message is stored durably first (so a
crash or Ctrl-C loses nothing: any worker will finish it), then this process attempts delivery once
and reports the outcome. A temporary failure leaves it queued for retry and reports ``queued``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

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
)
from mailcard.errors import NotFoundError
from mailcard.outbox.model import MessageStatus

if TYPE_CHECKING:
    from mailcard.bootstrap import Container


def resolve_account_id(
    app: Container, smtp: str | None, password_env: str | None, ca_file: str | None
) -> int | None:
    """``--smtp`` as a saved account name or a URL; ``None`` means the default account or the dev inbox."""
    if smtp is None:
        return None
    from mailcard.delivery.settings import parse_smtp_url, with_ca_file

    if "://" in smtp:
        settings = parse_smtp_url(smtp, password_env=password_env)
        if ca_file:
            settings = with_ca_file(settings, ca_file)
        return app.accounts.save_inline(settings).id
    return app.accounts.by_name(smtp).id


def register(app: typer.Typer) -> None:
    @app.command()
    def send(
        to: list[str] = typer.Option(..., "--to", help="Recipient; repeat, or separate with commas."),
        sender: str = typer.Option(..., "--from", help="Sender, e.g. 'Shop <shop@example.com>'."),
        subject: str = typer.Option(..., "--subject"),
        text: str | None = typer.Option(None, "--text", help="Plain-text body."),
        html: str | None = typer.Option(None, "--html", help="HTML body."),
        text_file: Path | None = typer.Option(
            None, "--text-file", help="Read the plain-text body from a file."
        ),
        html_file: Path | None = typer.Option(None, "--html-file", help="Read the HTML body from a file."),
        preheader: str | None = typer.Option(
            None, "--preheader", help="Inbox preview text, hidden in the body."
        ),
        smtp: str | None = typer.Option(None, "--smtp", help="Saved account name or SMTP URL."),
        smtp_password_env: str | None = typer.Option(
            None, "--smtp-password-env", help="Take the SMTP password from this environment variable."
        ),
        ca_file: str | None = typer.Option(None, "--ca-file", help="CA bundle to verify the SMTP server."),
        idempotency_key: str | None = typer.Option(
            None,
            "--idempotency-key",
            help="Sending the same e-mail again with the same key returns the first message; a different e-mail is refused.",
        ),
        no_wait: bool = typer.Option(False, "--no-wait", help="Only queue it; a running worker delivers it."),
        as_json: bool = JsonOption,
    ) -> None:
        """Send one e-mail through the outbox and report the outcome."""
        if text_file is not None:
            text = read_body_file(text_file, as_json=as_json)
        if html_file is not None:
            html = read_body_file(html_file, as_json=as_json)
        from mailcard.compose import EmailRequest
        from mailcard.digests import json_digest

        # The e-mail asked for under the key (the SMTP route is not part of it, and a URL may hold a
        # password): the same key again for a different e-mail is refused.
        fingerprint = (
            json_digest(
                {
                    "to": to,
                    "from": sender,
                    "subject": subject,
                    "text": text,
                    "html": html,
                    "preheader": preheader,
                }
            )
            if idempotency_key
            else None
        )
        with handled(as_json=as_json), container() as mailcard:
            account_id = resolve_account_id(mailcard, smtp, smtp_password_env, ca_file)
            submission = mailcard.composer().submit(
                EmailRequest(
                    sender=sender,
                    to=",".join(to),
                    subject=subject,
                    text=text,
                    html=html,
                    preheader=preheader,
                    idempotency_key=idempotency_key,
                    request_fingerprint=fingerprint,
                    smtp_account_id=account_id,
                )
            )
            message_id = submission.message.id
            if not no_wait and not submission.message.status.settled:
                run_here(
                    _deliver_now(mailcard, message_id), status=f"Sending {message_id} …", as_json=as_json
                )
            message = mailcard.outbox.get(message_id)
            if message is None:
                raise NotFoundError(f"Message {message_id} disappeared from the outbox.")
            status = {
                MessageStatus.SENT: "sent",
                MessageStatus.FAILED: "failed",
                MessageStatus.CANCELLED: "failed",
            }.get(message.status, "queued")
            result: dict[str, Any] = {
                "id": message.id,
                "status": status,
                "reason": message.last_reason,
                "smtp_code": message.last_smtp_code,
                "message_id": message.message_id,
                "error": message.last_error or None,
                "warnings": [f.to_dict() for f in submission.findings if f.severity == "warning"],
            }

            def human() -> None:
                colour = {"sent": "green", "failed": "red"}.get(status, "yellow")
                console.print(f"[{colour}]{status}[/] {message.id}  Message-ID {message.message_id}")
                if message.last_reason:
                    console.print(f"  reason: {message.last_reason} (SMTP {message.last_smtp_code})")
                if message.last_error:
                    console.print(f"  {message.last_error}")
                for warning in result["warnings"]:
                    console.print(f"  [yellow]warning[/] {warning['code']}: {warning['message']}")

            emit(result, as_json=as_json, human=human)
            raise typer.Exit(EXIT_FAILED if status == "failed" else EXIT_OK)


async def _deliver_now(mailcard: Container, message_id: str) -> None:
    worker = mailcard.worker(poll_seconds=0.05)
    try:
        await worker.run_once([message_id])
    finally:
        await worker.aclose()
    # A running server's worker may have claimed the message first: its attempt is this send's
    # outcome, so wait for it (at most one lease) rather than report "queued" mid-conversation.
    deadline = time.monotonic() + mailcard.settings.lease_seconds
    while time.monotonic() < deadline:
        message = mailcard.outbox.get(message_id)
        if message is None or message.status is not MessageStatus.SENDING:
            return
        await asyncio.sleep(0.05)
