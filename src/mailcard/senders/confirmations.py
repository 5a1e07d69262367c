"""Proving ownership of a sender address: a link and a six-digit code e-mailed to it.

Starting a confirmation replaces any pending one for the same address (that is how "re-send"
works), so only the newest link and code are valid. Both expire after ``confirmation_hours``; a code
allows five wrong guesses, then a new one must be requested. The address becomes usable only once
confirmed, and only if it is still the address the confirmation was sent to.

The e-mail goes through :class:`~mailcard.compose.Composer` and the default SMTP account (the
"system" account), like any other message, so it is durable and visible in the outbox.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from sqlalchemy import Engine, delete, insert, select, update

from mailcard.db.engine import reading
from mailcard.db.schema import sender_confirmations
from mailcard.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from mailcard.identity import Principal, UserStore
from mailcard.identity.opaque import digest, new_secret
from mailcard.senders.addresses import SenderAddressStore

if TYPE_CHECKING:
    from mailcard.compose import Composer

Kind = Literal["user", "store", "address"]
KINDS: tuple[str, ...] = ("user", "store", "address")
MAX_CODE_ATTEMPTS = 5
RESEND_AFTER = timedelta(seconds=20)


class StoreSenders(Protocol):
    """What confirmation needs of the stores: their sender address, and marking it confirmed."""

    def get(self, store_id: int) -> Any: ...

    def mark_sender_confirmed(self, store_id: int, email: str) -> None: ...


@dataclass(frozen=True)
class PendingConfirmation:
    id: int
    kind: str
    subject_id: int
    email: str
    expires_at: datetime
    outbox_message_id: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "sender_id": self.subject_id,
            "email": self.email,
            "expires_at": self.expires_at.isoformat(),
            "message_id": self.outbox_message_id,
        }


@dataclass(frozen=True)
class Confirmed:
    kind: str
    subject_id: int
    email: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "sender_id": self.subject_id, "email": self.email, "confirmed": True}


class SenderConfirmations:
    def __init__(
        self,
        engine: Engine,
        *,
        users: UserStore,
        stores: StoreSenders,
        addresses: SenderAddressStore,
        composer: Composer,
        public_url: str,
        system_sender: str,
        lifetime: timedelta,
    ) -> None:
        self._engine = engine
        self._users = users
        self._stores = stores
        self._addresses = addresses
        self._composer = composer
        self._public_url = public_url.rstrip("/")
        self._system_sender = system_sender
        self._lifetime = lifetime

    def start(self, principal: Principal, kind: str, subject_id: int) -> PendingConfirmation:
        """E-mail a new link and code to the address; earlier pending ones stop working."""
        email = self._authorised_email(principal, kind, subject_id)
        now = datetime.now(UTC)
        with reading(self._engine) as conn:
            last = conn.execute(
                select(sender_confirmations.c.created_at)
                .where(sender_confirmations.c.kind == kind, sender_confirmations.c.subject_id == subject_id)
                .order_by(sender_confirmations.c.id.desc())
                .limit(1)
            ).scalar_one_or_none()
        if last is not None and now - last < RESEND_AFTER:
            raise ConflictError(
                "A confirmation was sent moments ago; check the inbox before asking again.",
                code="confirmation_too_soon",
                hint=f"Wait {int(RESEND_AFTER.total_seconds())} seconds between requests.",
            )
        token = new_secret("mcc")
        code = f"{secrets.randbelow(1_000_000):06d}"
        expires_at = now + self._lifetime
        submission = self._composer.submit(self._request(email, token, code, expires_at))
        with self._engine.begin() as conn:
            conn.execute(
                delete(sender_confirmations).where(
                    sender_confirmations.c.kind == kind,
                    sender_confirmations.c.subject_id == subject_id,
                    sender_confirmations.c.used_at.is_(None),
                )
            )
            confirmation_id = conn.execute(
                insert(sender_confirmations)
                .values(
                    kind=kind,
                    subject_id=subject_id,
                    email=email,
                    token_hash=digest(token),
                    code_hash=digest(code),
                    attempts=0,
                    outbox_message_id=submission.message.id,
                    created_at=now,
                    expires_at=expires_at,
                )
                .returning(sender_confirmations.c.id)
            ).scalar_one()
        return PendingConfirmation(
            confirmation_id, kind, subject_id, email, expires_at, submission.message.id
        )

    def confirm_code(self, principal: Principal, kind: str, subject_id: int, code: str) -> Confirmed:
        """Confirm with the code from the e-mail (the person who asked types it in)."""
        self._authorised_email(principal, kind, subject_id)
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            row = conn.execute(
                select(sender_confirmations).where(
                    sender_confirmations.c.kind == kind,
                    sender_confirmations.c.subject_id == subject_id,
                    sender_confirmations.c.used_at.is_(None),
                )
            ).first()
            if row is None or row.expires_at <= now or row.attempts >= MAX_CODE_ATTEMPTS:
                raise _expired()
            if not hmac.compare_digest(digest(code.strip()), row.code_hash):
                conn.execute(
                    update(sender_confirmations)
                    .where(sender_confirmations.c.id == row.id)
                    .values(attempts=sender_confirmations.c.attempts + 1)
                )
                left = MAX_CODE_ATTEMPTS - row.attempts - 1
                raise InputError(
                    "The confirmation code is wrong.",
                    code="confirmation_code_wrong",
                    hint=f"{left} attempts left; then request a new code." if left else "Request a new code.",
                )
            conn.execute(
                update(sender_confirmations).where(sender_confirmations.c.id == row.id).values(used_at=now)
            )
        return self._apply(row.kind, row.subject_id, row.email)

    def confirm_token(self, token: str) -> Confirmed:
        """Confirm with the link: holding the token proves the mailbox received it."""
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            row = conn.execute(
                select(sender_confirmations).where(
                    sender_confirmations.c.token_hash == digest(token),
                    sender_confirmations.c.used_at.is_(None),
                )
            ).first()
            if row is None or row.expires_at <= now:
                raise _expired()
            conn.execute(
                update(sender_confirmations).where(sender_confirmations.c.id == row.id).values(used_at=now)
            )
        return self._apply(row.kind, row.subject_id, row.email)

    # -- inside ----------------------------------------------------------------------------------

    def _authorised_email(self, principal: Principal, kind: str, subject_id: int) -> str:
        if kind not in KINDS:
            raise InputError(
                f"Unknown sender kind {kind!r}; use user, store or address.", code="invalid_sender_kind"
            )
        if kind == "user":
            if not principal.is_admin and principal.user_id != subject_id:
                raise PermissionDeniedError("You may confirm only your own address.", code="not_your_user")
            return str(self._users.get(subject_id).email)
        if not principal.is_admin:
            raise PermissionDeniedError(
                "Only administrators confirm store and additional addresses.", code="admin_only"
            )
        if kind == "store":
            email = self._stores.get(subject_id).sender_email
            if not email:
                raise InputError("The store has no sender address to confirm.", code="store_has_no_sender")
            return str(email)
        return self._addresses.get(subject_id).email

    def _apply(self, kind: str, subject_id: int, email: str) -> Confirmed:
        try:
            if kind == "user":
                self._users.mark_sender_confirmed(subject_id, email, allow=True)
            elif kind == "store":
                self._stores.mark_sender_confirmed(subject_id, email)
            else:
                self._addresses.mark_confirmed(subject_id, email)
        except NotFoundError:
            raise _expired() from None
        return Confirmed(kind, subject_id, email)

    def _request(self, email: str, token: str, code: str, expires_at: datetime) -> Any:
        from mailcard.compose import EmailRequest

        link = f"{self._public_url}/api/senders/confirm?token={token}"
        until = expires_at.strftime("%Y-%m-%d %H:%M UTC")
        text = (
            "Someone asked to use this address as a sender in mailcard.\n\n"
            f"Confirm it by opening this link:\n{link}\n\n"
            f"or by entering this code: {code}\n\n"
            f"The link and the code are valid until {until}. "
            "If you did not ask for this, ignore this message: nothing will be sent from your address."
        )
        return EmailRequest(
            sender=f"mailcard <{self._system_sender}>",
            to=email,
            subject=f"Confirm {email} as a sender address",
            text=text,
            preheader=f"Your code: {code}",
        )


def _expired() -> InputError:
    return InputError(
        "This confirmation is not valid: it expired, was replaced by a newer one, or was already used.",
        code="confirmation_invalid",
        hint="Start confirmation again; a new link and code will be sent.",
    )
