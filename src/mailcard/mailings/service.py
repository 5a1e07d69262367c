"""Creating mailings: everything that can be known before the first message is composed, checked
at once, so a mailing that cannot work is refused whole and a stored one is worth composing.

* the sender parses (``客服团队 <support@company.com>``) and the SMTP account exists; a From the
  account probably may not use is a warning, as in flows;
* every recipient's address parses (each bad one is reported with its position) and every named CRM
  customer exists; a repeated address is sent once (the first), and the repeats are reported;
* the templates compile and render with the first recipient's data, and that message passes content
  validation: active content (script, frames ...) refuses the mailing, shortened links warn.

Each recipient's message is still validated when it is composed (the last line of defence): one that
fails is refused by itself and the rest go out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mailcard.compose import Composer, EmailRequest
from mailcard.crm.templates import TemplateStore
from mailcard.delivery.accounts import AccountResolver
from mailcard.errors import AddressError, ConfigurationError, InputError, MailcardError
from mailcard.mailings.model import (
    Mailing,
    MailingContent,
    MailingProgress,
    NewMailing,
    NewRecipient,
    RecipientView,
)
from mailcard.mailings.store import SqlMailingStore
from mailcard.outbox.store import OutboxStore
from mailcard.senders.account_match import sender_settings_warning
from mailcard.validation.addresses import parse_mailbox
from mailcard.validation.findings import Finding, Location

__all__ = ["MAX_RECIPIENTS", "MailingService", "RecipientInput"]

MAX_RECIPIENTS = 100_000
_REPORTED = 100  # bad recipients listed in an error; the count says how many there are in all


@dataclass(frozen=True, slots=True)
class RecipientInput:
    """An address with its template data, or a CRM customer (address, and ``customer``, ``manager``
    and ``store`` as on the card; ``context`` adds to them)."""

    to: str | None = None
    customer_id: str | None = None
    context: dict[str, Any] | None = None


class MailingService:
    def __init__(
        self,
        store: SqlMailingStore,
        composer: Composer,
        outbox: OutboxStore,
        accounts: AccountResolver,
        customer_data: Callable[[str], dict[str, Any] | None],
        *,
        templates: TemplateStore | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self._composer = composer
        self._outbox = outbox
        self._accounts = accounts
        # A CRM customer (id or external id) as templates see them: customer, manager, store.
        self._customer_data = customer_data
        self._templates = templates
        self._clock = clock

    def content(
        self,
        *,
        sender: str,
        template_id: int | None = None,
        subject: str | None = None,
        preheader: str | None = None,
        html: str | None = None,
        text: str | None = None,
        timezone: str = "UTC",
        smtp_account_id: int | None = None,
    ) -> MailingContent:
        """What the mailing sends: a stored template's subject, preheader and bodies (of any event:
        a mailing's data is what its recipients bring), each replaced by the one given; or only the
        ones given."""
        if template_id is not None:
            if self._templates is None:
                raise ConfigurationError("Mailings were set up without the template store.")
            subject, preheader, html, text = self._templates.get(template_id).overridden(
                subject=subject, preheader=preheader, html=html, text=text
            )
        if not subject:
            raise InputError("Give a subject, or pick a template.", code="empty_subject")
        return MailingContent(
            sender=sender,
            subject=subject,
            preheader=preheader,
            text=text,
            html=html,
            timezone=timezone,
            smtp_account_id=smtp_account_id,
        )

    def create(
        self,
        name: str,
        content: MailingContent,
        recipients: Sequence[RecipientInput],
        *,
        created_by: int | None = None,
    ) -> tuple[Mailing, MailingProgress]:
        if not name.strip():
            raise InputError("Give the mailing a name.", code="mailing_name_missing")
        if not content.text and not content.html:
            raise InputError("The mailing has no body: give a text or an HTML body.", code="empty_body")
        if not recipients:
            raise InputError("The mailing has no recipient.", code="no_recipient")
        if len(recipients) > MAX_RECIPIENTS:
            raise InputError(
                f"A mailing has at most {MAX_RECIPIENTS:,} recipients; this one has {len(recipients):,}.",
                code="too_many_recipients",
                hint="Split the list into several mailings.",
            )
        sender = parse_mailbox(content.sender)
        findings = self._account_findings(content, sender.address)
        accepted, repeats = self._recipients(recipients)
        if repeats:
            findings.append(
                Finding(
                    code="duplicate_recipients",
                    severity="info",
                    message=f"{repeats} repeated address(es) will be sent one e-mail each, not several.",
                    location=Location(part="to"),
                ).to_dict()
            )
        first = accepted[0]
        prepared = self._composer.prepare(
            EmailRequest(
                sender=sender,
                to=first.address,
                subject=content.subject,
                preheader=content.preheader,
                text=content.text,
                html=content.html,
                context=first.context,
                timezone=content.timezone,
            )
        )
        findings += [f.to_dict() for f in prepared.findings if f.severity != "info"]
        mailing = self.store.create(
            NewMailing(
                name=name.strip(),
                content=content,
                recipients=accepted,
                findings=findings,
                created_by=created_by,
            ),
            now=self._clock(),
        )
        # Just stored: nothing composed yet (no need to ask the database).
        return mailing, MailingProgress(recipients=len(accepted), composed=0, refused=0, messages={})

    def get(self, mailing_id: str) -> tuple[Mailing, MailingProgress]:
        return self.store.overview(mailing_id)

    def cancel(self, mailing_id: str) -> tuple[Mailing, MailingProgress, int]:
        """Stop the mailing: nothing more is composed, its waiting messages are cancelled (a message
        being handed to the SMTP server at this moment still goes). Returns how many were cancelled;
        cancelling again does no harm."""
        now = self._clock()
        waiting = self.store.cancel(mailing_id, now=now)
        cancelled = self._outbox.cancel_waiting(waiting, now=now)
        return *self.store.overview(mailing_id), cancelled

    def recipients(self, mailing_id: str, *, limit: int, offset: int) -> tuple[list[RecipientView], int]:
        """A page of the recipients in order, and how many there are."""
        return self.store.recipients(mailing_id, limit=limit, offset=offset)

    def _account_findings(self, content: MailingContent, sender_address: str) -> list[dict[str, Any]]:
        try:
            account = self._accounts.resolve(content.smtp_account_id)
        except ConfigurationError as error:
            raise InputError(
                f"There is no SMTP account {content.smtp_account_id}.", code="smtp_account_not_found"
            ) from error
        name = account.settings.name
        warning = sender_settings_warning(
            sender_address, account.settings, f"account {name!r}" if name else "the default account"
        )
        return [] if warning is None else [warning.to_dict()]

    def _recipients(self, given: Sequence[RecipientInput]) -> tuple[list[NewRecipient], int]:
        """The recipients to store, first occurrence of each address kept, and how many repeated."""
        accepted: list[NewRecipient] = []
        seen: set[str] = set()
        problems: list[dict[str, Any]] = []
        repeats = 0
        for index, item in enumerate(given):
            try:
                recipient, address = self._recipient(item)
            except MailcardError as error:
                problems.append({"index": index, "code": error.code, "message": error.message})
                continue
            key = address.lower()
            if key in seen:
                repeats += 1
                continue
            seen.add(key)
            accepted.append(recipient)
        if problems:
            listed = "; ".join(f"#{p['index'] + 1}: {p['message']}" for p in problems[:3])
            raise AddressError(
                f"{len(problems)} recipient(s) cannot be used ({listed}"
                + ("; …" if len(problems) > 3 else "")
                + "). Nothing was stored.",
                code="invalid_recipients",
                hint="Correct or remove these recipients and create the mailing again.",
                details={"recipients": problems[:_REPORTED], "count": len(problems)},
            )
        return accepted, repeats

    def _recipient(self, item: RecipientInput) -> tuple[NewRecipient, str]:
        """The recipient to store, and its bare address (what repeats are found by)."""
        context = dict(item.context or {})
        if item.customer_id is not None:
            data = self._customer_data(item.customer_id)
            if data is None:
                raise InputError(f"There is no customer {item.customer_id}.", code="customer_not_found")
            customer = data["customer"]
            address = item.to or customer.get("email")
            if not address:
                raise AddressError(
                    f"Customer {item.customer_id} has no e-mail address.", code="customer_without_email"
                )
            context.update(data)  # as on the card: the given data cannot replace these
            mailbox = parse_mailbox(str(address))
            return (
                NewRecipient(address=str(mailbox), context=context, customer_id=str(customer["id"])),
                mailbox.address,
            )
        if not item.to:
            raise InputError("Give each recipient an address (to) or a customer_id.", code="no_recipient")
        mailbox = parse_mailbox(item.to)
        return NewRecipient(address=str(mailbox), context=context), mailbox.address
