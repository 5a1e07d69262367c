"""``mailcard inbox list|show``: what the dev inbox captured (works without the server running)."""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from mailcard.cli.runtime import JsonOption, console, emit, handled
from mailcard.devinbox import BANNER, DevInboxStore
from mailcard.settings import load_settings


def register(app: typer.Typer) -> None:
    inbox = typer.Typer(
        help="The dev inbox: captured e-mail that never left this machine.", no_args_is_help=True
    )
    app.add_typer(inbox, name="inbox")

    @inbox.command("list")
    def list_captured(
        limit: int = typer.Option(50, "--limit", min=1, max=1000), as_json: bool = JsonOption
    ) -> None:
        """Captured messages, newest first, with sender, recipients and subject."""
        with handled(as_json=as_json):
            store = DevInboxStore(load_settings().devinbox_dir)
            messages = store.list(limit=limit)

            def human() -> None:
                console.print(f"[yellow]{BANNER}[/]")
                table = Table("id", "received", "from", "to", "subject")
                for m in messages:
                    table.add_row(m.id, m.received_at[:19], m.header_from, ", ".join(m.recipients), m.subject)
                console.print(table)

            emit({"messages": [m.to_dict() for m in messages]}, as_json=as_json, human=human)

    @inbox.command("show")
    def show(
        message_id: str,
        raw: bool = typer.Option(False, "--raw", help="Print the message exactly as received."),
        as_json: bool = JsonOption,
    ) -> None:
        """One captured message."""
        with handled(as_json=as_json):
            store = DevInboxStore(load_settings().devinbox_dir)
            summary, data = store.get(message_id)
            if raw:
                sys.stdout.buffer.write(data)
                return
            text = data.decode("utf-8", errors="replace")
            emit(
                summary.to_dict() | {"raw": text},
                as_json=as_json,
                human=lambda: console.print(text, markup=False),
            )
