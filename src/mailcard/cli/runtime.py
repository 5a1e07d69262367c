"""What every command shares: building the container, printing JSON or Rich, and exit codes.

Errors from :mod:`mailcard.errors` become a clear message (or a JSON ``{"error": ...}`` object with
``--json``) and an exit code: 2 for usage and set-up problems the user must fix, 1 for an operation
that ran and failed. Nothing prints a traceback at a user.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from mailcard import eventloop
from mailcard.errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    ContentBlockedError,
    DeliveryError,
    InputError,
    MailcardError,
    NotFoundError,
    PermissionDeniedError,
    TemplateError,
)
from mailcard.textio import json_text

if TYPE_CHECKING:
    from mailcard.bootstrap import Container

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

JsonOption = typer.Option(False, "--json", help="Print one JSON object for scripts instead of text.")

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def exit_code_for(error: MailcardError) -> int:
    if isinstance(error, ContentBlockedError | DeliveryError | TemplateError | ConflictError):
        return EXIT_FAILED
    if isinstance(error, InputError | ConfigurationError | NotFoundError):
        return EXIT_USAGE
    if isinstance(error, AuthenticationError | PermissionDeniedError):
        return EXIT_FAILED
    return EXIT_FAILED


def print_json(data: Any) -> None:
    sys.stdout.write(json_text(data) + "\n")
    sys.stdout.flush()


def configure_streams() -> None:
    """Text that cannot be encoded (a lone surrogate from undecodable input) is printed as its
    ``\\uXXXX`` escape instead of ending the command; standard input decodes undecodable bytes to
    such surrogates, so a reader can say which line is not UTF-8 (``mailcard.textio.is_unicode``)."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="surrogateescape")


def fail(error: MailcardError, *, as_json: bool) -> NoReturn:
    if as_json:
        print_json({"error": error.to_dict()})
    else:
        err_console.print(f"[bold red]Error[/] ({error.code}): {error.message}")
        if error.hint:
            err_console.print(f"[yellow]Hint:[/] {error.hint}")
        for finding in getattr(error, "findings", []) or []:
            data = finding.to_dict() if hasattr(finding, "to_dict") else finding
            err_console.print(f"  - [{data.get('severity')}] {data.get('code')}: {data.get('message')}")
    raise typer.Exit(exit_code_for(error))


def usage_error(message: str, *, as_json: bool, hint: str | None = None) -> NoReturn:
    fail(InputError(message, code="usage_error", hint=hint), as_json=as_json)


@contextmanager
def handled(*, as_json: bool) -> Iterator[None]:
    """Turn mailcard errors into messages and exit codes."""
    try:
        yield
    except MailcardError as error:
        fail(error, as_json=as_json)


@contextmanager
def container() -> Iterator[Container]:
    from mailcard.bootstrap import build  # imported here so `mailcard --help` stays fast

    app = build()
    try:
        yield app
    finally:
        app.dispose()


def emit(data: Any, *, as_json: bool, human: Callable[[], None]) -> None:
    if as_json:
        print_json(data)
    else:
        human()


def read_body_file(path: Path | None, *, as_json: bool) -> str | None:
    """The text of a ``--text-file`` / ``--html-file`` option (UTF-8), or None when not given."""
    if path is None:
        return None
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        usage_error(f"Cannot read the body file: {exc}", as_json=as_json)


def run_here(work: Coroutine[Any, Any, T], *, status: str, as_json: bool) -> T:
    """Run ``work`` (the CLI's in-process delivery) on the event loop, with a spinner for a person."""
    if as_json:
        return eventloop.run(work)
    with console.status(status):
        return eventloop.run(work)
