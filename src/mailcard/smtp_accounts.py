"""SMTP accounts: saved by admins, or created from a URL or a flow block's inline settings.

Passwords are encrypted with :class:`~mailcard.crypto.SecretBox` before they reach the database and
decrypted only when the worker resolves an account for sending. This module is also the worker's
:class:`~mailcard.delivery.accounts.AccountResolver`: a message without an account goes through the
default account, else ``MAILCARD_SMTP_URL``, else the dev inbox, so nothing leaves the machine
until someone configures a real server.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, update

from mailcard.crypto import SecretBox
from mailcard.db.direct import Direct
from mailcard.db.engine import reading
from mailcard.db.rows import row_by_id
from mailcard.db.schema import mailings, outbox_messages, smtp_accounts
from mailcard.delivery.accounts import AccountLimits, ResolvedAccount
from mailcard.delivery.settings import SmtpSettings
from mailcard.errors import ConfigurationError, ConflictError, NotFoundError

_T = smtp_accounts
# Built once, and run directly on SQLite (see mailcard.db.direct): every send from the card picks its
# account from the saved ones.
_BY_NAME = select(_T).order_by(_T.c.name)
_ALL_ACCOUNTS = Direct(_BY_NAME)
_SAVED_ACCOUNTS = Direct(_BY_NAME.where(_T.c.kind == "saved"))
DEVINBOX_KEY = "devinbox"


@dataclass(frozen=True, slots=True)
class SmtpAccount:
    """A stored account as people see it: no password, only whether one is set."""

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
    limits: AccountLimits

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "host": self.host,
            "port": self.port,
            "security": self.security,
            "username": self.username,
            "has_password": self.has_password,
            "from_filter": self.from_filter,
            "is_default": self.is_default,
            "max_connections": self.limits.max_connections,
            "rate_per_second": self.limits.per_second,
            "rate_window_limit": self.limits.window_limit,
            "rate_window_seconds": self.limits.window_seconds,
        }


def devinbox_settings(port: int) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1", port=port, security="none", username=None, password=None, name="devinbox"
    )


class SmtpAccountStore:
    def __init__(
        self,
        engine: Engine,
        box: SecretBox,
        *,
        fallback: SmtpSettings | None,
        devinbox_port: int,
        default_ca_file: str | None = None,
    ) -> None:
        self._engine = engine
        self._box = box
        self._fallback = fallback
        self._devinbox_port = devinbox_port
        # The installation's CA bundle (MAILCARD_SMTP_CA_FILE) for accounts that name none, applied at use.
        self._default_ca_file = default_ca_file

    def save(
        self,
        name: str,
        settings: SmtpSettings,
        *,
        kind: str = "saved",
        from_filter: str | None = None,
        is_default: bool = False,
        limits: AccountLimits = AccountLimits(),
    ) -> SmtpAccount:
        """Create or replace the account called ``name``."""
        now = datetime.now(UTC)
        values: dict[str, Any] = {
            "kind": kind,
            "host": settings.host,
            "port": settings.port,
            "security": settings.security,
            "username": settings.username,
            "password_encrypted": self._box.encrypt(settings.password) if settings.password else None,
            "timeout_seconds": settings.timeout,
            "verify_tls": settings.verify_tls,
            "ca_file": settings.ca_file,
            "local_hostname": settings.local_hostname,
            "from_filter": from_filter,
            "is_default": is_default,
            "max_connections": limits.max_connections,
            "rate_per_second": limits.per_second,
            "rate_window_limit": limits.window_limit,
            "rate_window_seconds": limits.window_seconds,
            "updated_at": now,
        }
        with self._engine.begin() as conn:
            if is_default:
                conn.execute(update(_T).where(_T.c.is_default.is_(True)).values(is_default=False))
            existing = conn.execute(select(_T.c.id).where(_T.c.name == name)).scalar_one_or_none()
            if existing is None:
                conn.execute(_T.insert().values(name=name, created_at=now, **values))
            else:
                conn.execute(update(_T).where(_T.c.id == existing).values(**values))
            row = conn.execute(select(_T).where(_T.c.name == name)).one()
        return _to_account(row._mapping)

    def save_inline(self, settings: SmtpSettings) -> SmtpAccount:
        """An account for settings given inline (a CLI URL, a flow block); same settings, same account."""
        fingerprint = hashlib.sha256(
            "\0".join(
                [
                    settings.host,
                    str(settings.port),
                    settings.security,
                    settings.username or "",
                    settings.password.reveal() if settings.password else "",
                    str(settings.verify_tls),
                    settings.ca_file or "",
                    # Only when set: accounts saved before it existed keep their fingerprint.
                    *([settings.local_hostname] if settings.local_hostname else []),
                ]
            ).encode("utf-8")
        ).hexdigest()[:16]
        return self.save(f"inline:{fingerprint}", settings, kind="inline")

    def get(self, account_id: int, *, conn: Connection | None = None) -> SmtpAccount:
        return _to_account(self._row(account_id, conn))

    def _row(self, account_id: int, conn: Connection | None = None) -> Mapping[str, Any]:
        with reading(self._engine, conn) as reader:
            row = row_by_id(reader, _T, account_id)
        if row is None:
            raise NotFoundError(f"No SMTP account with id {account_id}.", code="smtp_account_not_found")
        return row

    def by_name(self, name: str) -> SmtpAccount:
        with reading(self._engine) as conn:
            row = conn.execute(select(_T).where(_T.c.name == name)).first()
        if row is None:
            raise NotFoundError(
                f"No SMTP account named {name!r}.",
                code="smtp_account_not_found",
                hint="List accounts with `mailcard smtp list`, or pass an SMTP URL.",
            )
        return _to_account(row._mapping)

    def delete(self, account_id: int) -> None:
        """Remove an account no message refers to (delivery history keeps its account)."""
        with self._engine.begin() as conn:
            used = (
                conn.execute(
                    select(outbox_messages.c.id)
                    .where(outbox_messages.c.smtp_account_id == account_id)
                    .limit(1)
                ).first()
                or conn.execute(
                    select(mailings.c.id).where(mailings.c.smtp_account_id == account_id).limit(1)
                ).first()
            )
            if used is not None:
                raise ConflictError(
                    "Messages in the outbox or mailings were sent, are queued or will go through this "
                    "account, so it stays.",
                    code="smtp_account_in_use",
                    hint="Stop using it as default or on senders instead; its history remains readable.",
                )
            if not conn.execute(delete(_T).where(_T.c.id == account_id)).rowcount:
                raise NotFoundError(f"No SMTP account with id {account_id}.", code="smtp_account_not_found")

    def list(self, *, include_inline: bool = False, conn: Connection | None = None) -> list[SmtpAccount]:
        query = _ALL_ACCOUNTS if include_inline else _SAVED_ACCOUNTS
        with reading(self._engine, conn) as reader:
            return [_to_account(row) for row in query.mappings(reader, {})]

    def for_sender(
        self, address: str, *, explicit_id: int | None = None, conn: Connection | None = None
    ) -> SmtpAccount | None:
        """The account that sends as ``address``, as Odoo's ``from_filter`` does.

        An account set on the sender (a store's or an additional address's) wins; then a saved
        account whose ``from_filter`` is exactly the address, then one whose filter is its domain,
        then the default account. ``None`` means the installation's fallback (``MAILCARD_SMTP_URL``
        or the dev inbox).
        """
        if explicit_id is not None:
            return self.get(explicit_id, conn=conn)
        wanted = address.strip().lower()
        domain = wanted.rpartition("@")[2]
        saved = self.list(conn=conn)
        filters = [(a, (a.from_filter or "").strip().lower().lstrip("@")) for a in saved]
        for account, wanted_filter in filters:
            if wanted_filter == wanted:
                return account
        for account, wanted_filter in filters:
            if wanted_filter and wanted_filter == domain:
                return account
        return next((a for a in saved if a.is_default), None)

    @property
    def fallback(self) -> SmtpSettings | None:
        """The installation's account from ``MAILCARD_SMTP_URL``, used when no saved account applies."""
        return self._fallback

    def has_real_account(self) -> bool:
        return self._fallback is not None or any(a.is_default for a in self.list())

    # -- AccountResolver -----------------------------------------------------------------------------

    def resolve(self, account_id: int | None) -> ResolvedAccount:
        row: Mapping[str, Any] | None
        with reading(self._engine) as conn:
            if account_id is None:
                default = conn.execute(select(_T).where(_T.c.is_default.is_(True))).first()
                row = None if default is None else dict(default._mapping)
            else:
                row = row_by_id(conn, _T, account_id)
                if row is None:
                    raise ConfigurationError(
                        f"The message's SMTP account {account_id} no longer exists.",
                        code="smtp_account_missing",
                    )
        if row is not None:
            return ResolvedAccount(
                key=f"account:{row['id']}", settings=self.settings_of(row), limits=_limits(row)
            )
        if self._fallback is not None:
            return ResolvedAccount(key="env:MAILCARD_SMTP_URL", settings=self._fallback)
        return ResolvedAccount(key=DEVINBOX_KEY, settings=devinbox_settings(self._devinbox_port))

    def settings_of(self, row: Any) -> SmtpSettings:
        encrypted = row["password_encrypted"]
        return SmtpSettings(
            host=row["host"],
            port=row["port"],
            security=row["security"],
            username=row["username"],
            password=self._box.decrypt(encrypted) if encrypted else None,
            timeout=row["timeout_seconds"],
            ca_file=row["ca_file"] or self._default_ca_file,
            verify_tls=row["verify_tls"],
            local_hostname=row["local_hostname"],
            name=row["name"],
        )

    def settings_for(self, account_id: int) -> SmtpSettings:
        return self.settings_of(self._row(account_id))


def _limits(row: Any) -> AccountLimits:
    return AccountLimits(
        max_connections=row["max_connections"],
        per_second=row["rate_per_second"],
        window_limit=row["rate_window_limit"],
        window_seconds=row["rate_window_seconds"],
    )


def _to_account(row: Any) -> SmtpAccount:
    return SmtpAccount(
        id=row["id"],
        name=row["name"],
        kind=row["kind"],
        host=row["host"],
        port=row["port"],
        security=row["security"],
        username=row["username"],
        has_password=bool(row["password_encrypted"]),
        from_filter=row["from_filter"],
        is_default=row["is_default"],
        limits=_limits(row),
    )
