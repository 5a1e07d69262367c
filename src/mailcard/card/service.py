"""The card's use cases; every one starts by checking the user may see the customer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, insert, select

from mailcard.access import check_customer_visible
from mailcard.compose import Composer, EmailRequest
from mailcard.compose.service import new_message
from mailcard.content.preview import preview_document
from mailcard.crm.template_data import TEMPLATE_KEYS, customer_template_data, manager_context
from mailcard.db.direct import Direct
from mailcard.db.engine import reading
from mailcard.db.schema import customer_emails
from mailcard.digests import json_digest
from mailcard.domain.mailbox import Mailbox
from mailcard.errors import (
    ContentBlockedError,
    InputError,
    MailcardError,
    NotFoundError,
)
from mailcard.identity import Principal, UserStore
from mailcard.outbox.sql import SqlOutboxStore
from mailcard.rendering import TemplateEngine
from mailcard.senders.account_match import sender_account_warning
from mailcard.senders.choices import SenderChoice, SenderChoices
from mailcard.senders.errors import sender_not_verified
from mailcard.smtp_accounts import SmtpAccount, SmtpAccountStore
from mailcard.validation import Finding
from mailcard.validation.findings import Location

# Built once (a statement costs more to build than to run), and run directly on SQLite (see
# mailcard.db.direct): every send runs this one.
_RECORD_EMAIL = Direct(insert(customer_emails))

CARD_EVENT = "customer"
TEST_PREFIX = "[TEST] "
# Keys of the rendering context the card fills itself; extra data cannot replace them.
RESERVED_KEYS = TEMPLATE_KEYS


# Each lookup reads with the caller's connection when given one: a send does all its reads in one
# transaction (see mailcard.db.engine.reading).


class Customers(Protocol):
    def get(self, customer_id: int, *, conn: Connection | None = None) -> Any: ...


class Stores(Protocol):
    def get(self, store_id: int, *, conn: Connection | None = None) -> Any: ...


class Templates(Protocol):
    def get(self, template_id: int, *, conn: Connection | None = None) -> Any: ...


@dataclass(frozen=True)
class CardEmail:
    """What the user filled in on the card. With ``template_id``, subject/preheader override the template's."""

    from_kind: str
    from_address_id: int | None = None
    template_id: int | None = None
    subject: str | None = None
    preheader: str | None = None
    html: str | None = None
    text: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CardPreview:
    sender: str
    to: str
    subject: str
    preheader: str | None
    html: str | None
    text: str | None
    smtp_account: str | None
    findings: tuple[Finding, ...]
    can_send: bool

    @property
    def document(self) -> str | None:
        """The message as a script-free document to show in ``<iframe sandbox srcdoc>``."""
        if self.html is None and self.text is None:
            return None
        return preview_document(self.html, self.text)

    def to_dict(self) -> dict[str, Any]:
        verdict = "block" if not self.can_send else ("warn" if self.findings else "ok")
        return {
            "from": self.sender,
            "to": self.to,
            "subject": self.subject,
            "preheader": self.preheader,
            "html": self.html,
            "text": self.text,
            "document": self.document,
            "smtp_account": self.smtp_account,
            "verdict": verdict,
            "can_send": self.can_send,
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class CardSent:
    message_id: str
    status: str
    created: bool
    sender: str
    to: str
    warnings: tuple[Finding, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "status": self.status,
            "created": self.created,
            "from": self.sender,
            "to": self.to,
            "warnings": [w.to_dict() for w in self.warnings],
        }


@dataclass(frozen=True)
class _Draft:
    request: EmailRequest
    choice: SenderChoice
    account: SmtpAccount | None
    extra_findings: tuple[Finding, ...]
    template_id: int | None


class CardService:
    def __init__(
        self,
        *,
        engine: Engine,
        customers: Customers,
        stores: Stores,
        templates: Templates,
        users: UserStore,
        choices: SenderChoices,
        accounts: SmtpAccountStore,
        composer: Composer,
        outbox: SqlOutboxStore,
        engine_templates: TemplateEngine,
    ) -> None:
        self._engine = engine
        self._customers = customers
        self._stores = stores
        self._templates = templates
        self._users = users
        self._choices = choices
        self._accounts = accounts
        self._composer = composer
        self._outbox = outbox
        self._twig = engine_templates

    # -- reading ---------------------------------------------------------------------------------

    def customer(self, principal: Principal, customer_id: int, *, conn: Connection | None = None) -> Any:
        customer = self._customers.get(customer_id, conn=conn)
        check_customer_visible(principal, customer.id, customer.manager_id, customer.store_id)
        return customer

    def sender_options(self, principal: Principal, customer_id: int) -> list[SenderChoice]:
        return self._choices.options(principal, self.customer(principal, customer_id))

    def timeline(
        self, principal: Principal, customer_id: int, *, limit: int = 50, before: str | None = None
    ) -> list[dict[str, Any]]:
        """The customer's e-mails, newest first, each with who sent it and every delivery attempt."""
        customer = self.customer(principal, customer_id)
        messages = self._outbox.list(customer_id=str(customer.id), limit=limit, before_id=before)
        ids = [m.id for m in messages]
        history: dict[str, Any] = {}
        if ids:
            with reading(self._engine) as conn:
                rows = conn.execute(
                    select(customer_emails).where(customer_emails.c.outbox_message_id.in_(ids))
                ).all()
            history = {r.outbox_message_id: r for r in rows}
        items = []
        for message in messages:
            row = history.get(message.id)
            item = _message_view(message.to_dict(), [a.to_dict() for a in self._outbox.attempts(message.id)])
            item.update(
                {
                    "from_kind": row.from_kind if row is not None else None,
                    "sent_by_user_id": row.user_id if row is not None else None,
                    "template_id": row.template_id if row is not None else None,
                    "warnings": row.warnings if row is not None else [],
                }
            )
            items.append(item)
        return items

    def message(self, principal: Principal, message_id: str) -> dict[str, Any]:
        """One message's status and attempts, if it belongs to a customer the user may see."""
        message = self._outbox.get(message_id)
        if message is None or message.customer_id is None or not message.customer_id.isdigit():
            raise NotFoundError(f"No message with id {message_id}.", code="message_not_found")
        try:
            self.customer(principal, int(message.customer_id))
        except NotFoundError:
            raise NotFoundError(f"No message with id {message_id}.", code="message_not_found") from None
        return _message_view(message.to_dict(), [a.to_dict() for a in self._outbox.attempts(message.id)])

    # -- composing -------------------------------------------------------------------------------

    def preview(self, principal: Principal, customer_id: int, email: CardEmail) -> CardPreview:
        """Render and check without sending; problems come back as findings, not errors."""
        findings: list[Finding] = []
        can_send = True
        with reading(self._engine) as conn:
            customer = self.customer(principal, customer_id, conn=conn)
            # An unconfirmed From still previews: the message as it would look, and why it cannot send yet.
            choice = self._choices.resolve(
                principal, customer, email.from_kind, email.from_address_id, require_usable=False, conn=conn
            )
            draft = self._draft(customer, email, choice, idempotency_key=None, conn=conn)
        if not choice.usable:
            findings.append(
                _finding_of(sender_not_verified(choice.confirmation_kind, choice.id, email=choice.email))
            )
            can_send = False
        findings.extend(draft.extra_findings)
        findings.extend(self._unresolved(draft.request))
        try:
            prepared = self._composer.prepare(draft.request)
        except ContentBlockedError as error:
            blocked = tuple(f for f in error.findings if isinstance(f, Finding))
            return CardPreview(
                sender=_format(draft.request.sender),
                to=_format_list(draft.request.to),
                subject=draft.request.subject,
                preheader=draft.request.preheader,
                html=None,
                text=None,
                smtp_account=draft.account.name if draft.account else None,
                findings=tuple(findings) + blocked,
                can_send=False,
            )
        return CardPreview(
            sender=_format(prepared.sender),
            to=", ".join(_format(r) for r in prepared.recipients),
            subject=prepared.subject,
            preheader=prepared.preheader,
            html=prepared.html,
            text=prepared.text,
            smtp_account=draft.account.name if draft.account else None,
            findings=tuple(findings) + prepared.findings,
            can_send=can_send,
        )

    def send(
        self, principal: Principal, customer_id: int, email: CardEmail, *, idempotency_key: str | None
    ) -> CardSent:
        """Store the e-mail durably in the outbox (the worker delivers it); warnings come back."""
        key = f"card:{principal.user_id}:{idempotency_key}" if idempotency_key else None
        # What this user asked for under the key: the same key for another e-mail is refused.
        fingerprint = json_digest({"customer_id": customer_id, **asdict(email)}) if key else None
        # Every read in one transaction; the write (below) in another, after the composing.
        with reading(self._engine) as conn:
            customer = self.customer(principal, customer_id, conn=conn)
            choice = self._resolve(principal, customer, email, conn)
            draft = self._draft(
                customer, email, choice, idempotency_key=key, request_fingerprint=fingerprint, conn=conn
            )
        prepared = self._composer.prepare(draft.request)
        warnings = tuple(draft.extra_findings) + prepared.findings
        now = datetime.now(UTC)

        def record(conn: Connection, message_id: str) -> None:
            # The card's history row commits with the outbox row: one transaction, one fsync.
            _RECORD_EMAIL.execute(
                conn,
                {
                    "customer_id": customer.id,
                    "outbox_message_id": message_id,
                    "user_id": principal.user_id,
                    "template_id": draft.template_id,
                    "from_kind": draft.choice.kind,
                    "from_address": prepared.built.envelope_from,
                    "subject": prepared.subject,
                    "warnings": [w.to_dict() for w in warnings],
                    "created_at": now,
                },
            )

        submission = self._outbox.enqueue(new_message(draft.request, prepared), now=now, also=record)
        return CardSent(
            message_id=submission.message.id,
            status=submission.message.status.value,
            created=submission.created,
            sender=_format(draft.request.sender),
            to=_format_list(draft.request.to),
            warnings=warnings,
        )

    def test_send(self, principal: Principal, customer_id: int, email: CardEmail) -> CardSent:
        """The same message, rendered for this customer, sent to the user's own confirmed address."""
        with reading(self._engine) as conn:
            customer = self.customer(principal, customer_id, conn=conn)
            user = self._users.get(principal.user_id, conn=conn)
            if user.sender_confirmed_at is None:
                raise InputError(
                    "A test is sent to your own address, which is not confirmed yet.",
                    code="test_address_not_confirmed",
                    hint='Confirm it with POST /api/senders/confirmations {"kind": "user", "id": <your id>}.',
                )
            choice = self._resolve(principal, customer, email, conn)
            draft = self._draft(customer, email, choice, idempotency_key=None, conn=conn)
        request = draft.request
        test = EmailRequest(
            sender=request.sender,
            to=[Mailbox(user.email, user.name)],
            subject=TEST_PREFIX + request.subject,
            text=request.text,
            html=request.html,
            preheader=request.preheader,
            context=request.context,
            smtp_account_id=request.smtp_account_id,
            headers={"X-Mailcard-Test": "yes"},
        )
        submission = self._composer.submit(test)
        return CardSent(
            message_id=submission.message.id,
            status=submission.message.status.value,
            created=True,
            sender=_format(request.sender),
            to=_format(Mailbox(user.email, user.name)),
            warnings=tuple(draft.extra_findings) + submission.findings,
        )

    # -- inside ----------------------------------------------------------------------------------

    def _resolve(
        self, principal: Principal, customer: Any, email: CardEmail, conn: Connection
    ) -> SenderChoice:
        return self._choices.resolve(principal, customer, email.from_kind, email.from_address_id, conn=conn)

    def _draft(
        self,
        customer: Any,
        email: CardEmail,
        choice: SenderChoice,
        *,
        idempotency_key: str | None,
        request_fingerprint: str | None = None,
        conn: Connection,
    ) -> _Draft:
        if not customer.email:
            raise InputError(
                "The customer has no e-mail address, so there is nobody to send to.",
                code="customer_has_no_email",
                hint="Add the customer's e-mail address to their card first.",
            )
        subject, preheader, html, text, template_id = self._content(email, conn)
        account = self._accounts.for_sender(choice.email, explicit_id=choice.smtp_account_id, conn=conn)
        warning = sender_account_warning(choice.email, account, fallback=self._accounts.fallback)
        name = " ".join(p for p in (customer.first_name, customer.last_name) if p)
        request = EmailRequest(
            sender=choice.mailbox,
            to=[Mailbox(customer.email, name)] if _plain(customer.email) else customer.email,
            subject=subject,
            preheader=preheader,
            html=html,
            text=text,
            context=self._context(customer, email.data, choice, conn),
            idempotency_key=idempotency_key,
            request_fingerprint=request_fingerprint,
            smtp_account_id=account.id if account else None,
            customer_id=str(customer.id),
        )
        return _Draft(request, choice, account, (warning,) if warning else (), template_id)

    def _content(
        self, email: CardEmail, conn: Connection
    ) -> tuple[str, str | None, str | None, str | None, int | None]:
        if email.template_id is not None:
            template = self._templates.get(email.template_id, conn=conn)
            if template.event != CARD_EVENT:
                raise InputError(
                    f"Template {template.name!r} is made for the {template.event!r} event; "
                    "the card sends templates of the 'customer' event.",
                    code="template_wrong_event",
                )
            subject, preheader, html, text = template.overridden(
                subject=email.subject, preheader=email.preheader, html=email.html, text=email.text
            )
            return subject, preheader, html, text, template.id
        if not email.subject:
            raise InputError("Give a subject, or pick a template.", code="empty_subject")
        if not email.html and not email.text:
            raise InputError("Give a text or HTML body, or pick a template.", code="empty_body")
        return email.subject, email.preheader, email.html, email.text, None

    def _context(
        self, customer: Any, data: Mapping[str, Any], choice: SenderChoice, conn: Connection
    ) -> dict[str, Any]:
        context: dict[str, Any] = {k: v for k, v in data.items() if k not in RESERVED_KEYS}
        known = None
        if choice.kind == "manager" and choice.id == customer.manager_id:
            # Sending as the manager: the choice was just read from their user, no second query.
            known = manager_context(choice.id, choice.name or "", choice.email)
        context.update(
            customer_template_data(customer, users=self._users, stores=self._stores, conn=conn, manager=known)
        )
        return context

    def _unresolved(self, request: EmailRequest) -> list[Finding]:
        found: list[Finding] = []
        parts: list[tuple[str, str | None]] = [
            ("subject", request.subject),
            ("preheader", request.preheader),
            ("html", request.html),
            ("text", request.text),
        ]
        for part, source in parts:
            if not source:
                continue
            try:
                missing = self._twig.find_unresolved(source, request.context, name=part)
            except MailcardError:
                continue  # a syntax error surfaces when the part renders
            for item in missing:
                hint = f"Did you mean {item.suggestion}?" if item.suggestion else None
                found.append(
                    Finding(
                        code="unresolved_variable",
                        severity="warning",
                        message=f"unresolved variable {item.path} in the {part}; it renders empty.",
                        hint=hint,
                        location=Location(part=part, line=item.line, column=item.column),  # type: ignore[arg-type]
                    )
                )
        return found


def _plain(address: str) -> bool:
    return "<" not in address and "," not in address and ";" not in address


def _format(mailbox: str | Mailbox) -> str:
    if isinstance(mailbox, str):
        return mailbox
    return f"{mailbox.display_name} <{mailbox.address}>" if mailbox.display_name else mailbox.address


def _format_list(to: Any) -> str:
    if isinstance(to, str):
        return to
    return ", ".join(_format(m) for m in to)


def _finding_of(error: MailcardError) -> Finding:
    return Finding(code=error.code, severity="error", message=error.message, hint=error.hint)


def _message_view(message: dict[str, Any], attempts: list[dict[str, Any]]) -> dict[str, Any]:
    view = {k: v for k, v in message.items() if k not in ("lease_owner", "lease_expires_at", "data")}
    view["attempts"] = attempts
    return view
