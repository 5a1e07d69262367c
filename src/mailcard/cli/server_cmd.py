"""``mailcard run``, ``mailcard worker`` and ``mailcard db upgrade``: the long-running processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import typer
import uvicorn

from mailcard import eventloop
from mailcard.cli.runtime import JsonOption, console, container, emit, handled
from mailcard.db.migrate import current_revision, head_revision, upgrade

if TYPE_CHECKING:
    from mailcard.bootstrap import Container


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def register(app: typer.Typer) -> None:
    db = typer.Typer(help="Database schema.", no_args_is_help=True)
    app.add_typer(db, name="db")

    @db.command("upgrade")
    def db_upgrade(as_json: bool = JsonOption) -> None:
        """Bring the database schema to the newest version (safe to run any time)."""
        with handled(as_json=as_json):
            from mailcard.bootstrap import build

            mailcard = build(migrate=False)
            try:
                before = current_revision(mailcard.engine)
                upgrade(mailcard.engine)
                data = {
                    "from": before,
                    "to": head_revision(),
                    "database": mailcard.engine.url.render_as_string(),
                }
            finally:
                mailcard.dispose()
            emit(
                data, as_json=as_json, human=lambda: console.print(f"database at {data['to']} (was {before})")
            )

    @app.command()
    def worker(
        concurrency: int | None = typer.Option(None, "--concurrency", min=1, max=1000),
    ) -> None:
        """Deliver queued e-mail until stopped (SIGTERM or Ctrl-C finishes what is in flight first)."""
        with handled(as_json=False), container() as mailcard:
            _configure_logging(mailcard.settings.log_level)
            overrides: dict[str, Any] = {"concurrency": concurrency} if concurrency else {}
            eventloop.run(_run_worker(mailcard, overrides))

    @app.command()
    def run(
        host: str | None = typer.Option(None, "--host"),
        port: int | None = typer.Option(None, "--port"),
        no_worker: bool = typer.Option(False, "--no-worker", help="Serve the API only; run workers apart."),
        devinbox: bool | None = typer.Option(
            None,
            "--devinbox/--no-devinbox",
            help="Capture e-mail locally (default: when no SMTP account is set).",
        ),
    ) -> None:
        """Serve the HTTP API with a worker and, in development, the dev inbox."""
        from mailcard.api.app import Services, create_app
        from mailcard.devinbox import BANNER

        with handled(as_json=False), container() as mailcard:
            settings = mailcard.settings
            _configure_logging(settings.log_level)
            if settings.demo_data:
                _load_demo(mailcard)
            if devinbox is None:
                devinbox = (
                    settings.devinbox_enabled
                    if settings.devinbox_enabled is not None
                    else not mailcard.accounts.has_real_account()
                )
            if devinbox:
                console.print(f"[bold yellow]{BANNER}[/] (SMTP on 127.0.0.1:{settings.devinbox_port})")
            api = create_app(mailcard, Services(worker=not no_worker, devinbox=devinbox))
            config = uvicorn.Config(
                api,
                host=host or settings.host,
                port=port or settings.port,
                log_level=settings.log_level.lower(),
                lifespan="on",
            )
            from mailcard.api import access_log

            access_log.install()  # after uvicorn.Config, which (re)configures its loggers
            CleanExitServer(config).run()


def _load_demo(mailcard: Any) -> None:
    """MAILCARD_DEMO_DATA=true: fill an empty database; a database with users is left alone."""
    from mailcard.demo import load_demo_if_empty

    summary = load_demo_if_empty(mailcard)
    if summary is not None:
        logins = ", ".join(f"{login} / {password}" for login, password in summary.passwords.items())
        console.print(
            f"[bold yellow]Demo data loaded[/] (published passwords, never in production): {logins}"
        )


class CleanExitServer(uvicorn.Server):
    """Stops gracefully on SIGTERM/SIGINT and exits 0, as service managers expect after a clean stop.

    Stock uvicorn re-raises the signal once it has shut down, so the process would die by it.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


async def _run_worker(mailcard: Container, overrides: dict[str, Any]) -> None:
    from mailcard.background import BackgroundWork

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    work = BackgroundWork(mailcard, stop, **overrides)
    worker = work.worker
    logging.getLogger("mailcard.worker").info("worker %s started", worker.worker_id)
    try:
        await work.delivery
    finally:
        await work.close()
        logging.getLogger("mailcard.worker").info(
            "worker stopped: %s sent, %s failed, %s to retry", worker.sent, worker.failed, worker.retried
        )
