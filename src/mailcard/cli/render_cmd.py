"""``mailcard render``: render a Twig template with a JSON context (or JSON lines in batch).

Exit codes: 0 rendered, 1 template error (message with line and column on stderr), 2 usage error
(unreadable file, context that is not a JSON object, bad option value).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from mailcard.errors import TemplateError
from mailcard.rendering import RenderOptions, TemplateEngine
from mailcard.rendering.batch import render_jsonl
from mailcard.rendering.phpdate import get_zone
from mailcard.textio import is_unicode

__all__ = ["register"]


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _read(path: str, what: str) -> str:
    if path == "-":
        text = sys.stdin.read()
        if not is_unicode(text):
            raise _fail(f"the {what} on standard input is not UTF-8 text", 2)
        return text
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"cannot read the {what} file {path}: {exc}", 2) from None


def _load_context(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    text = _read(path, "context").removeprefix("\ufeff")  # editors on Windows write a BOM
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _fail(f"the context file {path} is not valid JSON: {exc}", 2) from None
    except RecursionError:
        raise _fail(f"the context file {path} is nested too deeply", 2) from None
    if not isinstance(data, dict):
        raise _fail(f"the context file {path} must hold a JSON object", 2)
    return data


def register(app: typer.Typer) -> None:
    @app.command("render")
    def render(
        template: str = typer.Option(
            None, "--template", "-t", help="Template file ('-' for standard input)."
        ),
        context: str = typer.Option(None, "--context", "-c", help="JSON file with the template variables."),
        autoescape: str = typer.Option(
            "html", "--autoescape", help="html (HTML bodies) or none (subjects, text)."
        ),
        strict: bool = typer.Option(False, "--strict", help="Fail on variables the context does not have."),
        timezone: str = typer.Option(
            "UTC", "--timezone", help="Timezone for the date filters, e.g. Europe/Moscow."
        ),
        jsonl: bool = typer.Option(
            False,
            "--jsonl",
            help='Batch: read {"id","template","context","config"} lines, write one result per line.',
        ),
    ) -> None:
        """Render a Twig template (Twig 3 semantics, sandboxed) and print the result."""
        if jsonl:
            source = sys.stdin if template in (None, "-") else None
            lines = source if source is not None else _read(template, "input").splitlines()
            for line in render_jsonl(lines):
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            return
        if template is None:
            raise _fail("--template is required (or use --jsonl)", 2)
        if autoescape not in ("html", "none"):
            raise _fail(f"--autoescape must be html or none, not {autoescape!r}", 2)
        try:
            get_zone(timezone)  # now, not only when a template uses a date filter
        except TemplateError:
            raise _fail(
                f"--timezone: unknown timezone {timezone!r} (use a name like Europe/Moscow)", 2
            ) from None
        source_text = _read(template, "template")
        data = _load_context(context)
        try:
            options = RenderOptions(
                autoescape="html" if autoescape == "html" else None,
                strict_variables=strict,
                timezone=timezone,
            )
            output = TemplateEngine().render(source_text, data, options, name=Path(template).name)
        except TemplateError as exc:
            where = f" (line {exc.line}, column {exc.column})" if exc.line is not None else ""
            raise _fail(f"template error{where}: {exc}", 1) from None
        sys.stdout.write(output)
