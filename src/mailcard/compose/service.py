"""Turns an :class:`EmailRequest` into a durable outbox message, or refuses with findings.

The order matters: addresses and header safety first (cheap, and nothing else makes sense without
them), then rendering, then validation of what was rendered (the last line of defence: a blocked
message never reaches the outbox), then the preheader and text part, then MIME, then the outbox.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from mailcard.compose.skeleton import SkeletonCache
from mailcard.content.preheader import inject_preheader_keeping_tree, preheader_for_text_only
from mailcard.content.text_part import finish_text, html_to_text
from mailcard.domain.mailbox import Mailbox
from mailcard.errors import AddressError, ContentBlockedError, InputError, MailcardError
from mailcard.mime import BuiltMessage, MessageDraft, build_message
from mailcard.outbox.model import NewMessage, OutboxMessage
from mailcard.outbox.store import OutboxStore
from mailcard.rendering import RenderOptions, TemplateEngine
from mailcard.validation import ContentToCheck, Finding, LinkPolicy, check_content
from mailcard.validation.addresses import parse_mailbox, parse_recipient_list
from mailcard.validation.html import HtmlAnalysis


@dataclass(frozen=True)
class EmailRequest:
    """What a caller wants sent. With ``context``, subject, preheader, text and html are Twig templates."""

    sender: str | Mailbox
    to: str | Sequence[str | Mailbox]
    subject: str
    text: str | None = None
    html: str | None = None
    preheader: str | None = None
    context: Mapping[str, Any] | None = None
    timezone: str = "UTC"
    idempotency_key: str | None = None
    # The digest of the caller's own request (mailcard.digests.json_digest), checked when the key
    # is known; a caller whose keys come from its own state (a flow run) leaves it out.
    request_fingerprint: str | None = None
    smtp_account_id: int | None = None
    customer_id: str | None = None
    flow_run_id: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # This message's own retry policy (a flow block's "retry" setting); None: the installation's.
    retry_max_attempts: int | None = None
    retry_base_seconds: float | None = None


@dataclass(frozen=True)
class PreparedEmail:
    """A rendered, validated, built message that has not been stored (a preview, or about to be)."""

    sender: Mailbox
    recipients: tuple[Mailbox, ...]
    subject: str
    preheader: str | None
    text: str | None
    html: str | None
    built: BuiltMessage
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class Submission:
    message: OutboxMessage
    created: bool
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class BulkItem:
    """One request of a bulk submission: stored (``id``) or refused (``error``), never half-done."""

    id: str | None
    error: MailcardError | None
    findings: tuple[Finding, ...] = ()


class Composer:
    def __init__(
        self,
        outbox: OutboxStore,
        *,
        templates: TemplateEngine,
        link_policy: LinkPolicy = LinkPolicy(),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        reuse_skeletons: bool = True,
    ) -> None:
        """``reuse_skeletons``: check and lay out the text of each rendered HTML skeleton once
        (:mod:`mailcard.compose.skeleton`); off, every message takes the full path (the reference
        the tests compare with)."""
        self._outbox = outbox
        self._templates = templates
        self._link_policy = link_policy
        self._clock = clock
        self._skeletons = SkeletonCache(link_policy) if reuse_skeletons else None

    def prepare(self, request: EmailRequest, *, strict: bool = False) -> PreparedEmail:
        """Render, validate and build; raises ``ContentBlockedError`` when validation finds errors."""
        sender = request.sender if isinstance(request.sender, Mailbox) else parse_mailbox(request.sender)
        recipients = _recipients(request.to)
        subject, preheader, text, html, html_pieces = self._render(request, strict=strict)
        if not text and not html:
            raise InputError("The message has no body: give a text or an HTML body.", code="empty_body")
        content = ContentToCheck(subject=subject, preheader=preheader, html=html, text=text)
        # The text part's layout from the skeleton cache, when its checks already cleared the HTML.
        layout = None
        if html_pieces is not None and self._skeletons is not None and not text:
            layout = self._skeletons.text_part_layout(*html_pieces)
        if layout is not None:
            tree = None
            report = check_content(content, self._link_policy, html_analysis=HtmlAnalysis())
        else:
            # One parse of the HTML for the validation and, when it is generated, the text part.
            tree = LexborHTMLParser(html) if html is not None and not text else None
            report = check_content(content, self._link_policy, html_tree=tree)
        if report.verdict == "block":
            blocking = [f for f in report.findings if f.severity == "error"]
            raise ContentBlockedError(
                "The message was not sent: " + "; ".join(f.message for f in blocking),
                findings=report.findings,
            )
        if preheader and not html:
            html = preheader_for_text_only(text or "", preheader)
        elif preheader and html:
            html, keeps_tree = inject_preheader_keeping_tree(html, preheader)
            if not keeps_tree:
                tree = layout = None  # the hidden block may change how the rest parses: parse again
        if html and not text:
            text = finish_text(layout) if layout is not None else html_to_text(html, tree=tree)
        built = build_message(
            MessageDraft(
                sender=sender,
                to=recipients,
                subject=subject,
                text=text,
                html=html,
                headers=dict(request.headers),
                date=self._clock(),
            )
        )
        return PreparedEmail(
            sender=sender,
            recipients=tuple(recipients),
            subject=subject,
            preheader=preheader,
            text=text,
            html=html,
            built=built,
            findings=tuple(report.findings),
        )

    def submit(self, request: EmailRequest) -> Submission:
        prepared = self.prepare(request)
        result = self._outbox.enqueue(new_message(request, prepared), now=self._clock())
        return Submission(message=result.message, created=result.created, findings=prepared.findings)

    def submit_many(self, requests: Sequence[EmailRequest]) -> list[BulkItem]:
        """Prepare every request, then store all that passed in one transaction (personalised bulk).

        A request that fails (bad address, template error, blocked content) is reported in its place
        and does not stop the others.
        """
        items: list[BulkItem | None] = []
        ready: list[tuple[int, EmailRequest, PreparedEmail]] = []
        for index, request in enumerate(requests):
            try:
                prepared = self.prepare(request)
            except MailcardError as error:
                items.append(BulkItem(id=None, error=error))
                continue
            items.append(None)
            ready.append((index, request, prepared))
        ids = self._outbox.enqueue_many([new_message(r, p) for _, r, p in ready], now=self._clock())
        for (index, _, prepared), message_id in zip(ready, ids, strict=True):
            items[index] = BulkItem(id=message_id, error=None, findings=prepared.findings)
        return [item for item in items if item is not None]

    def _render(
        self, request: EmailRequest, *, strict: bool
    ) -> tuple[str, str | None, str | None, str | None, tuple[list[str], frozenset[int]] | None]:
        """Subject, preheader, text and HTML, and when the HTML was rendered, its pieces and the ids
        of the template's own texts among them (what a skeleton is made of)."""
        if request.context is None:
            return request.subject, request.preheader, request.text, request.html, None
        plain = _render_options(None, strict, request.timezone)
        html_options = _render_options("html", strict, request.timezone)
        context = request.context

        def render(source: str | None, options: RenderOptions, name: str) -> str | None:
            if source is None:
                return None
            return self._templates.render(source, context, options, name=name)

        subject = render(request.subject, plain, "subject") or ""
        preheader = render(request.preheader, plain, "preheader")
        text = render(request.text, plain, "text")
        html = html_pieces = None
        if request.html is not None:  # last, as before: the first template error is the one reported
            compiled = self._templates.compile(request.html, html_options, name="html")
            pieces, html = compiled.render_pieces(context)
            html_pieces = (pieces, compiled.static_texts)
        # A rendered subject must stay on one line.
        return " ".join(subject.split()), preheader, text, html, html_pieces


@functools.lru_cache(maxsize=64)
def _render_options(autoescape: str | None, strict: bool, timezone: str) -> RenderOptions:
    """Shared options objects: a mailing renders with the same few for every message."""
    return RenderOptions(autoescape=autoescape, strict_variables=strict, timezone=timezone)


def new_message(request: EmailRequest, prepared: PreparedEmail) -> NewMessage:
    """What the outbox stores for a prepared request (for a caller that enqueues it itself)."""
    built = prepared.built
    return NewMessage(
        envelope_from=built.envelope_from,
        envelope_to=built.envelope_to,
        data=built.data,
        message_id=built.message_id,
        subject=prepared.subject,
        smtputf8=built.smtputf8,
        idempotency_key=request.idempotency_key,
        request_fingerprint=request.request_fingerprint,
        smtp_account_id=request.smtp_account_id,
        customer_id=request.customer_id,
        flow_run_id=request.flow_run_id,
        retry_max_attempts=request.retry_max_attempts,
        retry_base_seconds=request.retry_base_seconds,
    )


def _recipients(to: str | Sequence[str | Mailbox]) -> list[Mailbox]:
    if isinstance(to, str):
        mailboxes, problems = parse_recipient_list(to)
    else:
        mailboxes, problems = [], []
        for item in to:
            if isinstance(item, Mailbox):
                mailboxes.append(item)
            else:
                found, found_problems = parse_recipient_list(item)
                mailboxes.extend(found)
                problems.extend(found_problems)
    if problems:
        raise AddressError(
            "Some recipients are not valid e-mail addresses: " + "; ".join(p.message for p in problems),
            details={"findings": [p.to_dict() for p in problems]},
        )
    if not mailboxes:
        raise AddressError("The message has no recipient.", code="no_recipient")
    return mailboxes
