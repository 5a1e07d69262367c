"""Login, logout, the current user, and the caller's own API tokens."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Response
from pydantic import BaseModel, Field

from mailcard.api.deps import SESSION_COOKIE, ContainerDep, CurrentUser, id_path
from mailcard.api.schemas import UserOut

router = APIRouter(prefix="/api", tags=["auth"])

# Ids stay inside what every database holds: a larger one is refused here, not by the driver.
TokenId = Annotated[int, id_path("token")]


class LoginIn(BaseModel):
    login: str = Field(min_length=1, max_length=120)
    password: str = Field(min_length=1, max_length=1024)


class LoginOut(BaseModel):
    user: UserOut
    csrf_token: str = Field(description="Send it as X-CSRF-Token with every POST/PUT/PATCH/DELETE.")
    expires_at: str


class TokenIn(BaseModel):
    name: str = Field(
        min_length=1, max_length=200, description="What the token is for, e.g. the integration."
    )


class TokenOut(BaseModel):
    id: int
    user_id: int
    name: str
    prefix: str
    created_at: str
    last_used_at: str | None
    revoked: bool


class NewTokenOut(TokenOut):
    token: str = Field(description="The token itself: shown once, store it now.")


@router.post("/auth/login", response_model=LoginOut)
def login(body: LoginIn, response: Response, container: ContainerDep) -> dict[str, Any]:
    """Check the password and open a session (an HttpOnly cookie) for a browser."""
    user = container.users.authenticate(body.login, body.password)
    grant = container.credentials.open_session(user.id)
    response.set_cookie(
        SESSION_COOKIE,
        grant.session,
        max_age=int(container.settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=container.settings.secure_cookies(),
        path="/",
    )
    return {
        "user": user.to_dict(),
        "csrf_token": grant.csrf_token,
        "expires_at": grant.expires_at.isoformat(),
    }


@router.post("/auth/logout", status_code=204)
def logout(
    principal: CurrentUser,
    response: Response,
    container: ContainerDep,
    mailcard_session: Annotated[str | None, Cookie(include_in_schema=False)] = None,
) -> None:
    """End the current session (a token-authenticated call has nothing to end)."""
    if mailcard_session:
        container.credentials.close_session(mailcard_session)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", response_model=UserOut)
def me(principal: CurrentUser, container: ContainerDep) -> dict[str, Any]:
    """The logged-in user, with their sender status."""
    return container.users.get(principal.user_id).to_dict()


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(principal: CurrentUser, container: ContainerDep) -> list[dict[str, Any]]:
    """The caller's API tokens (never the tokens themselves)."""
    return [t.to_dict() for t in container.credentials.list_tokens(principal.user_id)]


@router.post("/tokens", response_model=NewTokenOut, status_code=201)
def create_token(body: TokenIn, principal: CurrentUser, container: ContainerDep) -> dict[str, Any]:
    """A new API token for the caller; the response is the only time it is shown."""
    plaintext, token = container.credentials.create_token(principal.user_id, body.name)
    return {**token.to_dict(), "token": plaintext}


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: TokenId, principal: CurrentUser, container: ContainerDep) -> None:
    """Revoke one of the caller's tokens."""
    container.credentials.revoke_token(principal.user_id, token_id)
