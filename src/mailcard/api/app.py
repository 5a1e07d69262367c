"""``create_app``: the FastAPI application, with the worker and dev inbox as optional lifespan services.

Errors from :mod:`mailcard.errors` are answered as ``application/problem+json`` with a stable ``code``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from mailcard import __version__
from mailcard.bootstrap import Container
from mailcard.devinbox import BANNER, DevInbox
from mailcard.errors import MailcardError

log = logging.getLogger("mailcard.api")


@dataclass(frozen=True)
class Services:
    worker: bool = True
    devinbox: bool = False


def create_app(container: Container, services: Services = Services(worker=False)) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        inbox: DevInbox | None = None
        worker_task: asyncio.Task[None] | None = None
        if services.devinbox:
            inbox = DevInbox(container.devinbox, port=container.settings.devinbox_port)
            await inbox.start()
        if services.worker:
            worker = container.worker()
            worker_task = asyncio.create_task(worker.run(stop))
        app.state.devinbox = inbox
        try:
            yield
        finally:
            stop.set()
            if worker_task is not None:
                await worker_task
                await worker.aclose()
            if inbox is not None:
                await inbox.stop()

    app = FastAPI(
        title="mailcard",
        version=__version__,
        description="Personal, safe, reliable customer e-mail over your own SMTP server.",
        lifespan=lifespan,
    )
    app.state.container = container

    @app.exception_handler(MailcardError)
    async def problem(request: Request, error: MailcardError) -> JSONResponse:
        body: dict[str, Any] = {
            "type": f"https://mailcard.invalid/problems/{error.code}",
            "title": error.message,
            "status": error.http_status,
        }
        body.update(error.to_dict())
        return JSONResponse(body, status_code=error.http_status, media_type="application/problem+json")

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["health"])
    def readyz() -> JSONResponse:
        """The database answers; the outbox counts tell whether anything is stuck."""
        try:
            with container.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            counts = container.outbox.counts()
        except Exception as exc:  # readiness must answer, whatever broke
            log.warning("not ready: %s", exc)
            return JSONResponse({"status": "unavailable", "reason": "database"}, status_code=503)
        body: dict[str, Any] = {"status": "ok", "outbox": counts}
        if services.devinbox:
            body["devinbox"] = BANNER
        return JSONResponse(body)

    return app
