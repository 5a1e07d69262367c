"""``create_app``: the FastAPI application, with the worker and dev inbox as optional lifespan services.

Routers live in :mod:`mailcard.api.routes`, one module a resource, listed in ``ROUTE_MODULES``.
Errors from :mod:`mailcard.errors`, request validation errors and HTTP errors are all answered as
``application/problem+json`` with a stable ``code``, and the OpenAPI document says so.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException

from mailcard import __version__
from mailcard.background import BackgroundWork
from mailcard.bootstrap import Container
from mailcard.db.engine import reading
from mailcard.devinbox import BANNER, DevInbox
from mailcard.errors import MailcardError

log = logging.getLogger("mailcard.api")

# Each module has a module-level ``router`` (an ``APIRouter``) built at import, without state.
# Routes are matched in this order, one router after another: the card's, the most used, come first.
ROUTE_MODULES: tuple[str, ...] = (
    "card",
    "auth",
    "users",
    "users_import",
    "customers",
    "stores",
    "templates",
    "senders",
    "smtp_accounts",
    "flows",
    "events",
    "tasks",
    "mailings",
)

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["type", "title", "status", "code", "message"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string", "description": "Stable, snake_case; never renamed."},
        "message": {"type": "string"},
        "hint": {"type": ["string", "null"]},
    },
    "additionalProperties": True,
}


@dataclass(frozen=True)
class Services:
    worker: bool = True
    devinbox: bool = False


def create_app(container: Container, services: Services = Services(worker=False)) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        inbox: DevInbox | None = None
        work: BackgroundWork | None = None
        if services.devinbox:
            inbox = DevInbox(container.devinbox, port=container.settings.devinbox_port)
            await inbox.start()
        if services.worker:
            work = BackgroundWork(container, asyncio.Event())
        app.state.devinbox = inbox
        try:
            yield
        finally:
            if work is not None:
                await work.close()
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
        return problem_response(error.http_status, error.to_dict())

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = jsonable_encoder(
            error.errors(), custom_encoder={bytes: lambda b: b.decode("utf-8", "replace")}
        )
        for item in errors:
            item.pop("input", None)  # never echo what was sent: it may hold a password
            item.pop("ctx", None)
        where = "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', ()))}: {item.get('msg', '')}" for item in errors
        )
        return problem_response(
            422,
            {"code": "invalid_request", "message": f"The request is not valid: {where}", "errors": errors},
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed"}
        return problem_response(
            error.status_code,
            {"code": codes.get(error.status_code, "http_error"), "message": str(error.detail)},
            headers=error.headers,
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_problems(
                get_openapi(
                    title=app.title, version=app.version, description=app.description, routes=app.routes
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:  # async: nothing blocks here, so no thread-pool hop
        """The process is up."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["health"])
    def readyz() -> JSONResponse:
        """The database answers; the outbox counts tell whether anything is stuck."""
        try:
            with reading(container.engine) as conn:
                conn.execute(text("SELECT 1"))
            counts = container.outbox.counts()
        except Exception as exc:  # readiness must answer, whatever broke
            log.warning("not ready: %s", exc)
            return JSONResponse({"status": "unavailable", "reason": "database"}, status_code=503)
        body: dict[str, Any] = {"status": "ok", "outbox": counts}
        if services.devinbox:
            body["devinbox"] = BANNER
        return JSONResponse(body)

    # After the probes: routes match in order, and probes are called every few seconds.
    for module_name in ROUTE_MODULES:
        module = importlib.import_module(f"mailcard.api.routes.{module_name}")
        app.include_router(module.router)

    return app


def problem_response(
    status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    content: dict[str, Any] = {
        "type": f"https://mailcard.invalid/problems/{body['code']}",
        "title": body["message"],
        "status": status,
    }
    content.update(body)
    return JSONResponse(content, status_code=status, media_type="application/problem+json", headers=headers)


def _with_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Document every error of every operation as problem+json (FastAPI's own 422 shape is replaced)."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses["default"] = {"description": "An error, with a stable `code`.", "content": problem}
    for unused in ("HTTPValidationError", "ValidationError"):
        schema["components"]["schemas"].pop(unused, None)
    return schema
