"""``mailcard config``: the configuration in effect, from the ``MAILCARD_*`` environment variables.

Every setting with its value, default and meaning; secrets are never printed (a set key reads
``(set)``, URL passwords ``***``). ``--markdown`` prints the reference table the README carries.
"""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from mailcard.cli.runtime import JsonOption, console, emit, handled
from mailcard.settings import describe_settings, load_settings, reference_markdown


def register(app: typer.Typer) -> None:
    @app.command("config")
    def show_config(
        markdown: bool = typer.Option(
            False,
            "--markdown",
            help="Print the reference table of every setting (defaults, as in the README).",
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Every setting: the value in effect, its default and what it does (secrets masked)."""
        if markdown:
            sys.stdout.write(reference_markdown())
            return
        with handled(as_json=as_json):
            rows = describe_settings(load_settings())

            def human() -> None:
                table = Table("variable", "value", "default", "meaning")
                for row in rows:
                    value = "—" if row["value"] is None else str(row["value"])
                    table.add_row(row["variable"], value, row["default"] or "—", row["description"])
                console.print(table)

            emit({"settings": rows}, as_json=as_json, human=human)
