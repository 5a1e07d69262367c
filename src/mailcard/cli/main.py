"""Entry point of the ``mailcard`` command: builds the Typer app from the command modules.

Exit codes across all commands: 0 success, 1 the thing asked for failed (blocked, not delivered,
template error), 2 usage error (bad flags or input that cannot be read).
"""

from __future__ import annotations

import typer

COMMAND_MODULES: tuple[str, ...] = (
    "send_cmd",
    "smtp_cmd",
    "outbox_cmd",
    "inbox_cmd",
    "server_cmd",
    "check_cmd",
    "render_cmd",
    "flow_cmd",
    "event_cmd",
    "mailing_cmd",
    "user_cmd",
    "config_cmd",
)


def build_app() -> typer.Typer:
    import importlib

    app = typer.Typer(
        name="mailcard",
        help="Personal, safe, reliable customer e-mail over your own SMTP server.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(f"mailcard.cli.{module_name}")
        module.register(app)
    return app


def run() -> None:
    import sys

    from mailcard.cli.runtime import configure_streams, usage_error
    from mailcard.textio import is_unicode

    configure_streams()
    for argument in sys.argv[1:]:
        if not is_unicode(argument):
            # Python hands over bytes that are not UTF-8 as lone surrogates, which nothing
            # downstream (a database, a message, an SMTP command) can carry.
            shown = argument.encode("utf-8", "backslashreplace").decode("ascii", "replace")
            try:
                usage_error(f"An argument is not UTF-8 text: {shown}", as_json="--json" in sys.argv)
            except typer.Exit as exit_:
                sys.exit(exit_.exit_code)
    build_app()()
