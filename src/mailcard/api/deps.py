"""FastAPI dependencies every router shares: the container, the caller, and pagination.

Authentication: ``Authorization: Bearer <API token>`` for integrations, or the ``mailcard_session``
cookie for browsers. A cookie-authenticated request that changes anything (POST, PUT, PATCH, DELETE)
must also carry the session's CSRF token in ``X-CSRF-Token``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated, Any, Generic, ParamSpec, TypeVar

from fastapi import Depends, Path, Query, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from mailcard.bootstrap import Container
from mailcard.db.engine import is_sqlite
from mailcard.db.rows import MAX_ID
from mailcard.errors import AuthenticationError, PermissionDeniedError
from mailcard.identity import Principal

SESSION_COOKIE = "mailcard_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(auto_error=False, description="An API token (`mailcard token create`).")
_cookie = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="Login session; unsafe methods also need X-CSRF-Token."
)


def container_of(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


async def get_container(request: Request) -> Container:
    # async: FastAPI runs a sync dependency in the thread pool, a hop per request for one attribute.
    return container_of(request)


ContainerDep = Annotated[Container, Depends(get_container)]

P = ParamSpec("P")
R = TypeVar("R")


async def call_database(container: Container, func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run ``func`` (blocking database work) from an async route.

    On SQLite it runs right here: a local file answers in microseconds, and the hop to a worker thread
    and back costs more than that (the GIL serialises the Python work either way). On PostgreSQL it
    goes to the thread pool, so that network round trips never stall the event loop.
    """
    if is_sqlite(container.engine):
        return func(*args, **kwargs)
    return await run_in_threadpool(func, *args, **kwargs)


async def get_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session: Annotated[str | None, Depends(_cookie)],
) -> Principal:
    # Every authenticated route passes here: async, so it costs no thread hop on SQLite. The container
    # comes from the request, not from ContainerDep: FastAPI solves every sub-dependency per request.
    container = container_of(request)
    return await call_database(container, _authenticate, request, container, bearer, session)


def _authenticate(
    request: Request,
    container: Container,
    bearer: HTTPAuthorizationCredentials | None,
    session: str | None,
) -> Principal:
    if bearer is not None:
        principal = container.credentials.principal_for_token(bearer.credentials)
        if principal is None:
            raise AuthenticationError(
                "The API token is not valid or was revoked.",
                code="invalid_token",
                hint="Create a new token with POST /api/tokens or `mailcard token create`.",
            )
        return principal
    if session:
        found = container.credentials.session_principal(session)
        if found is None:
            raise AuthenticationError(
                "Your session has ended; log in again.", code="session_expired", hint="POST /api/auth/login"
            )
        principal, csrf_token = found
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), csrf_token.encode()):
                raise PermissionDeniedError(
                    "The request lacks the session's CSRF token.",
                    code="csrf_failed",
                    hint=f"Send the csrf_token from the login response in the {CSRF_HEADER} header.",
                )
        return principal
    raise AuthenticationError(
        "Authentication required.",
        code="not_authenticated",
        hint="Send `Authorization: Bearer <API token>`, or log in with POST /api/auth/login.",
    )


CurrentUser = Annotated[Principal, Depends(get_principal)]


async def require_admin(principal: CurrentUser) -> Principal:
    if not principal.is_admin:
        raise PermissionDeniedError("Only administrators may do this.", code="admin_only")
    return principal


AdminUser = Annotated[Principal, Depends(require_admin)]

# An id in a request body or path: outside 1..MAX_ID no row can match, so it is refused as invalid
# (422) before it reaches the database driver, which could not even bind it.
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]


def id_path(what: str) -> Any:
    """The path parameter of a ``what``'s id (``Annotated[int, id_path("customer")]``)."""
    return Path(ge=1, le=MAX_ID, description=f"The {what}'s id.")


T = TypeVar("T")


class PageParams(BaseModel):
    limit: int
    offset: int


def page_params(
    limit: Annotated[int, Query(ge=1, le=500, description="Items per page.")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip.")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


Paging = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    next_offset: int | None

    @classmethod
    def of(cls, items: list[T], total: int, paging: PageParams) -> Page[T]:
        following = paging.offset + len(items)
        return cls(
            items=items,
            total=total,
            limit=paging.limit,
            offset=paging.offset,
            next_offset=following if following < total else None,
        )
