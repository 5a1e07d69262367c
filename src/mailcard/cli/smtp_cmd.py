"""``mailcard smtp test|add|list``: probe a server before go-live and save accounts.

``smtp test`` walks connect → TLS → AUTH → MAIL FROM → RCPT TO and ends with RSET, so nothing is sent
unless ``--send-test`` is given. Its ``--json`` object is a stable contract:
``{"ok", "reason", "transient", "smtp_code", "enhanced_code", "message", "hint"}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from mailcard import eventloop
from mailcard.cli.runtime import (
    EXIT_FAILED,
    EXIT_OK,
    JsonOption,
    console,
    container,
    emit,
    err_console,
    handled,
    usage_error,
)
from mailcard.domain.mailbox import Mailbox

if TYPE_CHECKING:
    from mailcard.delivery.settings import SmtpSettings


def register(app: typer.Typer) -> None:
    smtp = typer.Typer(help="SMTP accounts: test a connection, save and list accounts.", no_args_is_help=True)
    app.add_typer(smtp, name="smtp")

    @smtp.command("test")
    def test(
        server: str = typer.Option(..., "--smtp", help="Saved account name or SMTP URL."),
        mail_from: str | None = typer.Option(None, "--from", help="Sender to try in MAIL FROM."),
        rcpt_to: str | None = typer.Option(None, "--to", help="Recipient to try in RCPT TO."),
        send_test: bool = typer.Option(
            False, "--send-test", help="Really send a short test message to --to."
        ),
        smtp_password_env: str | None = typer.Option(None, "--smtp-password-env"),
        ca_file: str | None = typer.Option(None, "--ca-file", help="CA bundle to verify the server."),
        as_json: bool = JsonOption,
    ) -> None:
        """Check that mailcard can connect, log in and that the server accepts the sender and recipient."""
        from mailcard.delivery.probe import probe, sender_matches_account
        from mailcard.delivery.settings import parse_smtp_url, with_ca_file
        from mailcard.validation.addresses import parse_mailbox

        if send_test and not rcpt_to:
            usage_error("--send-test needs --to.", as_json=as_json)
        with handled(as_json=as_json), container() as mailcard:
            if "://" in server:
                settings = mailcard.with_default_ca(parse_smtp_url(server, password_env=smtp_password_env))
            else:
                account = mailcard.accounts.by_name(server)
                settings = mailcard.accounts.settings_for(account.id)
            if ca_file:
                settings = with_ca_file(settings, ca_file)
            sender = parse_mailbox(mail_from) if mail_from else None
            recipient = parse_mailbox(rcpt_to) if rcpt_to else None
            envelope_from = sender.address if sender else (settings.username or "postmaster@localhost")
            if sender and settings.username and not sender_matches_account(sender.address, settings):
                err_console.print(
                    f"[yellow]Warning:[/] From {sender.address} differs from the SMTP account {settings.username}: "
                    "the server may refuse it or receivers may mark it as spam."
                )
            test_message = None
            if send_test and recipient is not None:
                test_message = _test_message(sender or Mailbox(envelope_from), recipient, settings)
            result = eventloop.run(
                probe(
                    settings,
                    mail_from=envelope_from,
                    rcpt_to=recipient.address if recipient else None,
                    send_test=send_test,
                    test_message=test_message,
                )
            )
            data = result.to_json()

            def human() -> None:
                for step in getattr(result, "steps", []):
                    console.print(f"  {step}")
                if result.ok:
                    console.print(f"[green]OK[/] {result.message}")
                else:
                    console.print(f"[red]FAILED[/] ({result.reason}) {result.message}")
                    if result.hint:
                        console.print(f"[yellow]Hint:[/] {result.hint}")

            emit(data, as_json=as_json, human=human)
            raise typer.Exit(EXIT_OK if result.ok else EXIT_FAILED)

    @smtp.command("add")
    def add(
        name: str = typer.Argument(..., help="A name to refer to the account by."),
        url: str = typer.Argument(..., help="SMTP URL, e.g. smtp+starttls://user:pass@host:587"),
        default: bool = typer.Option(False, "--default", help="Use it for messages that name no account."),
        from_filter: str | None = typer.Option(
            None, "--from-filter", help="Address or domain this account sends for."
        ),
        max_connections: int = typer.Option(4, "--max-connections", min=1, max=100),
        rate_per_second: float | None = typer.Option(None, "--rate-per-second", min=0.001),
        rate_window: str | None = typer.Option(None, "--rate-window", help="N/SECONDS, e.g. 100/60"),
        smtp_password_env: str | None = typer.Option(None, "--smtp-password-env"),
        as_json: bool = JsonOption,
    ) -> None:
        """Save (or replace) an SMTP account; the password is encrypted at rest and never shown."""
        from mailcard.delivery.accounts import AccountLimits
        from mailcard.delivery.settings import parse_smtp_url

        window_limit = window_seconds = None
        if rate_window:
            try:
                count, _, seconds = rate_window.partition("/")
                window_limit, window_seconds = int(count), float(seconds)
            except ValueError:
                usage_error("--rate-window takes N/SECONDS, e.g. 100/60.", as_json=as_json)
        with handled(as_json=as_json), container() as mailcard:
            settings = parse_smtp_url(url, password_env=smtp_password_env)
            account = mailcard.accounts.save(
                name,
                settings,
                from_filter=from_filter,
                is_default=default,
                limits=AccountLimits(
                    max_connections=max_connections,
                    per_second=rate_per_second,
                    window_limit=window_limit,
                    window_seconds=window_seconds,
                ),
            )
            emit(
                account.to_dict(), as_json=as_json, human=lambda: console.print(f"saved SMTP account {name}")
            )

    @smtp.command("list")
    def list_accounts(as_json: bool = JsonOption) -> None:
        """Saved SMTP accounts (passwords are never shown)."""
        with handled(as_json=as_json), container() as mailcard:
            accounts = mailcard.accounts.list()

            def human() -> None:
                table = Table("name", "server", "security", "username", "default")
                for a in accounts:
                    table.add_row(
                        a.name,
                        f"{a.host}:{a.port}",
                        a.security,
                        a.username or "",
                        "yes" if a.is_default else "",
                    )
                console.print(table)

            emit({"accounts": [a.to_dict() for a in accounts]}, as_json=as_json, human=human)


def _test_message(sender: Mailbox, recipient: Mailbox, settings: SmtpSettings) -> bytes:
    from mailcard.mime import MessageDraft, build_message

    built = build_message(
        MessageDraft(
            sender=sender,
            to=[recipient],
            subject="mailcard SMTP test",
            text=f"This is a test message sent by mailcard through {settings.host}:{settings.port}.\n",
        )
    )
    return built.data
