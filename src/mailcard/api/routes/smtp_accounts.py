"""SMTP accounts (admins only): save with the password encrypted, list without it, test the connection."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from mailcard.api.deps import AdminUser, ContainerDep, id_path
from mailcard.delivery.accounts import AccountLimits
from mailcard.delivery.settings import SmtpSettings
from mailcard.secret import Secret

router = APIRouter(prefix="/api/smtp-accounts", tags=["smtp accounts"])

# Ids stay inside what every database holds: a larger one is refused here, not by the driver.
AccountId = Annotated[int, id_path("SMTP account")]


class SmtpAccountIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(587, ge=1, le=65535, description="587 with STARTTLS, 465 with implicit TLS.")
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = Field(None, max_length=320)
    password: str | None = Field(
        None, max_length=1024, description="Password or app password; stored encrypted."
    )
    timeout_seconds: float = Field(30.0, gt=0, le=600)
    verify_tls: bool = True
    from_filter: str | None = Field(
        None, max_length=320, description="The From address or domain this account sends for."
    )
    is_default: bool = False
    max_connections: int = Field(4, ge=1, le=100)


class SmtpAccountOut(BaseModel):
    id: int
    name: str
    kind: str
    host: str
    port: int
    security: str
    username: str | None
    has_password: bool
    from_filter: str | None
    is_default: bool
    max_connections: int
    warnings: list[dict[str, Any]] = Field(default_factory=list)


class ProbeIn(BaseModel):
    mail_from: str | None = Field(None, max_length=320, description="Default: the account's login.")
    rcpt_to: str | None = Field(
        None, max_length=320, description="Also check that this recipient is accepted."
    )


class ProbeOut(BaseModel):
    ok: bool
    reason: str | None
    transient: bool | None
    smtp_code: int | None
    enhanced_code: str | None
    message: str
    hint: str | None


@router.get("", response_model=list[SmtpAccountOut])
def list_accounts(principal: AdminUser, container: ContainerDep) -> list[dict[str, Any]]:
    return [a.to_dict() for a in container.accounts.list()]


@router.post("", response_model=SmtpAccountOut, status_code=201)
def save_account(body: SmtpAccountIn, principal: AdminUser, container: ContainerDep) -> dict[str, Any]:
    """Create or replace the account called ``name``; warns when its From filter differs from the login."""
    from mailcard.senders.account_match import sender_account_warning

    settings = SmtpSettings(
        host=body.host,
        port=body.port,
        security=body.security,
        username=body.username or None,
        password=Secret(body.password) if body.password else None,
        timeout=body.timeout_seconds,
        verify_tls=body.verify_tls,
        name=body.name,
    )
    account = container.accounts.save(
        body.name,
        settings,
        from_filter=body.from_filter or None,
        is_default=body.is_default,
        limits=AccountLimits(max_connections=body.max_connections),
    )
    warnings = []
    if account.from_filter:
        sample = account.from_filter if "@" in account.from_filter else f"sender@{account.from_filter}"
        warning = sender_account_warning(sample, account)
        if warning is not None:
            warnings.append(warning.to_dict())
    return {**account.to_dict(), "warnings": warnings}


@router.get("/{account_id}", response_model=SmtpAccountOut)
def get_account(account_id: AccountId, principal: AdminUser, container: ContainerDep) -> dict[str, Any]:
    return container.accounts.get(account_id).to_dict()


@router.delete("/{account_id}", status_code=204)
def delete_account(account_id: AccountId, principal: AdminUser, container: ContainerDep) -> None:
    container.accounts.delete(account_id)


@router.post("/{account_id}/test", response_model=ProbeOut)
async def test_account(
    account_id: AccountId, body: ProbeIn, principal: AdminUser, container: ContainerDep
) -> dict[str, Any]:
    """Connect, start TLS, log in and try MAIL FROM (and RCPT TO): nothing is sent."""
    from mailcard.delivery.probe import probe

    settings = container.with_default_ca(await asyncio.to_thread(container.accounts.settings_for, account_id))
    mail_from = body.mail_from or (
        settings.username if settings.username and "@" in settings.username else None
    )
    result = await probe(
        settings, mail_from=mail_from or container.settings.system_sender_address(), rcpt_to=body.rcpt_to
    )
    return result.to_json()
