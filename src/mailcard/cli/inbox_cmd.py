"""``mailcard inbox list|show``: what the dev inbox captured (works without the server running).

``show --preview`` prints the HTML part as a preview document (see :mod:`mailcard.content.preview`):
captured mail is untrusted HTML, and opened that way in a browser it cannot run script.
"""

from __future__ import annotations

import email
import email.policy
import sys
from email.message import EmailMessage

import typer
from rich.table import Table

from mailcard.cli.runtime import JsonOption, console, emit, handled
from mailcard.content.preview import preview_document
from mailcard.devinbox import BANNER, DevInboxStore
from mailcard.settings import load_settings


def _readable_parts(data: bytes) -> tuple[str | None, str | None]:
    """The message's HTML and plain-text bodies, decoded (None for a part it does not have)."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)  # what policy.default builds
    parts: dict[str, str | None] = {"html": None, "plain": None}
    for kind in parts:
        part = message.get_body(preferencelist=(kind,))
        if part is not None:
            try:
                parts[kind] = part.get_content()
            except (LookupError, ValueError):  # an unknown charset or a broken encoding
                parts[kind] = part.get_payload(decode=True).decode("utf-8", "replace")  # type: ignore[union-attr]
    return parts["html"], parts["plain"]


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
        preview: bool = typer.Option(
            False,
            "--preview",
            help="Print the HTML part (or the text part) as a document that runs no script, to open in a browser.",
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """One captured message."""
        with handled(as_json=as_json):
            store = DevInboxStore(load_settings().devinbox_dir)
            summary, data = store.get(message_id)
            if raw:
                sys.stdout.buffer.write(data)
                return
            if preview:
                html, text = _readable_parts(data)
                sys.stdout.write(preview_document(html, text))
                return
            text = data.decode("utf-8", errors="replace")
            emit(
                summary.to_dict() | {"raw": text},
                as_json=as_json,
                human=lambda: console.print(text, markup=False),
            )
