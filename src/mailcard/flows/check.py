"""Activation checks: everything that can be known about a flow before it runs, reported at once.

Findings (:class:`FlowFinding`, each located at a block and field):

* the graph: duplicate block ids, edges and ``start`` naming no block, unreachable blocks;
* templates compile and every variable resolves (strict mode) against a context shaped like a real
  run's for the trigger's event (:func:`mailcard.flows.events.sample_context`);
* content validation of each e-mail rendered with that context: shortened links warn, active content
  (script, frames, ...) blocks activation;
* addresses: recipients and From parse (``客服团队 <support@company.com>``);
* SMTP: the account exists, inline settings are usable, the port matches the security mode, and a
  From the account probably may not use warns (it may fail or land in spam);
* optionally (:func:`probe_flow`) a live SMTP probe of each account: connect, TLS, login, MAIL FROM.

Pure apart from reading accounts and users; nothing is stored or sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mailcard.delivery.probe import probe, sender_matches_account
from mailcard.delivery.settings import SmtpSettings
from mailcard.errors import MailcardError, TemplateError
from mailcard.flows.events import EVENT_SAMPLES, sample_context
from mailcard.flows.findings import FlowFinding, from_content_finding
from mailcard.flows.model import (
    ConditionBlock,
    FlowDefinition,
    InlineSmtp,
    NotifyAgentBlock,
    SendEmailBlock,
    SetVariableBlock,
    edges_of,
)
from mailcard.flows.smtp import settings_for
from mailcard.identity import UserStore
from mailcard.rendering import RenderOptions, TemplateEngine
from mailcard.smtp_accounts import SmtpAccountStore
from mailcard.validation import ContentToCheck, check_content
from mailcard.validation.addresses import parse_mailbox, parse_recipient_list

__all__ = ["CUSTOMER_MANAGER", "FlowChecker", "condition_template"]

CUSTOMER_MANAGER = "customer.manager"
_PLAIN = RenderOptions(autoescape=None, strict_variables=True)
_HTML = RenderOptions(autoescape="html", strict_variables=True)
MISMATCH_MESSAGE = "From differs from the SMTP account — the e-mail may fail or land in spam."


def condition_template(expression: str) -> str:
    """A Twig expression as a template that prints ``1`` when it is true."""
    return "{% if (" + expression + ") %}1{% endif %}"


class FlowChecker:
    def __init__(self, templates: TemplateEngine, accounts: SmtpAccountStore, users: UserStore) -> None:
        self._templates = templates
        self._accounts = accounts
        self._users = users

    def check(self, definition: FlowDefinition) -> list[FlowFinding]:
        findings = self._graph(definition)
        trigger = definition.trigger
        if trigger.event not in EVENT_SAMPLES and trigger.sample is None:
            findings.append(
                FlowFinding(
                    "unknown_event_type",
                    "warning",
                    f"mailcard does not know the event type {trigger.event!r}, so it cannot check which "
                    "event data the templates may use.",
                    field="trigger.event",
                    hint="Describe the event's data with trigger.sample, or use a known type: "
                    + ", ".join(sorted(EVENT_SAMPLES)),
                )
            )
        variables = {b.name: "sample" for b in definition.blocks if isinstance(b, SetVariableBlock)}
        context = sample_context(trigger.event, trigger.sample, variables)
        if trigger.condition:
            findings += self._template(
                condition_template(trigger.condition), context, None, "trigger.condition", _PLAIN
            )
        for block in definition.blocks:
            if isinstance(block, SendEmailBlock):
                findings += self._send_email(block, context)
            elif isinstance(block, ConditionBlock):
                findings += self._template(
                    condition_template(block.expression), context, block.id, "expression", _PLAIN
                )
            elif isinstance(block, SetVariableBlock) and isinstance(block.value, str):
                findings += self._template(block.value, context, block.id, "value", _PLAIN)
            elif isinstance(block, NotifyAgentBlock):
                findings += self._notify_agent(block, context)
        return findings

    # -- the graph -----------------------------------------------------------------------------------

    def _graph(self, definition: FlowDefinition) -> list[FlowFinding]:
        findings: list[FlowFinding] = []
        ids: set[str] = set()
        for block in definition.blocks:
            if block.id in ids:
                findings.append(
                    FlowFinding(
                        "duplicate_block_id", "error", f"Two blocks are called {block.id!r}.", block.id, "id"
                    )
                )
            ids.add(block.id)
        if definition.start is not None and definition.start not in ids:
            findings.append(
                FlowFinding(
                    "unknown_block", "error", f"start names no block: {definition.start!r}.", None, "start"
                )
            )
        for block in definition.blocks:
            for edge, target in edges_of(block).items():
                if target is not None and target not in ids:
                    findings.append(
                        FlowFinding(
                            "unknown_block",
                            "error",
                            f"The {edge} edge of {block.id!r} goes to {target!r}, which is not a block.",
                            block.id,
                            _edge_field(block, edge),
                        )
                    )
        reached: set[str] = set()
        pending = [definition.start_block]
        while pending:
            current = pending.pop()
            if current in reached or current not in ids:
                continue
            reached.add(current)
            pending += [t for t in edges_of(definition.block(current)).values() if t is not None]
        for block in definition.blocks:
            if block.id not in reached:
                findings.append(
                    FlowFinding(
                        "unreachable_block",
                        "warning",
                        f"No edge leads to {block.id!r}; it never runs.",
                        block.id,
                        hint="Connect it from another block's edge, or remove it.",
                    )
                )
        return findings

    # -- blocks --------------------------------------------------------------------------------------

    def _send_email(self, block: SendEmailBlock, context: Mapping[str, Any]) -> list[FlowFinding]:
        findings: list[FlowFinding] = []
        parts = {"to": block.to, "from": block.sender, "subject": block.subject, "preheader": block.preheader}
        for name, source in parts.items():
            if source is not None:
                findings += self._template(source, context, block.id, name, _PLAIN)
        if block.text is not None:
            findings += self._template(block.text, context, block.id, "text", _PLAIN)
        if block.html is not None:
            findings += self._template(block.html, context, block.id, "html", _HTML)
        rendered = {name: self._sample(source, context, _PLAIN) for name, source in parts.items()}
        to, sender = rendered["to"], rendered["from"]
        if to is not None:
            mailboxes, problems = parse_recipient_list(to)
            findings += [from_content_finding(p, block.id, "to") for p in problems]
            if not mailboxes and not problems:
                findings.append(
                    FlowFinding("no_recipient", "error", "The e-mail has no recipient.", block.id, "to")
                )
        sender_address: str | None = None
        if sender is not None:
            try:
                sender_address = parse_mailbox(sender).address
            except MailcardError as error:
                findings.append(FlowFinding(error.code, "error", error.message, block.id, "from", error.hint))
        text = self._sample(block.text, context, _PLAIN)
        html = self._sample(block.html, context, _HTML)
        if text is not None or html is not None:
            report = check_content(
                ContentToCheck(
                    subject=rendered["subject"] or "", preheader=rendered["preheader"], html=html, text=text
                )
            )
            findings += [from_content_finding(f, block.id) for f in report.findings]
        findings += self._smtp(block, sender_address)
        return findings

    def _smtp(self, block: SendEmailBlock, sender_address: str | None) -> list[FlowFinding]:
        findings: list[FlowFinding] = []
        spec = block.smtp
        if isinstance(spec, InlineSmtp):
            security = spec.resolved_security()
            if (spec.port == 465 and security != "tls") or (spec.port == 587 and security == "tls"):
                findings.append(
                    FlowFinding(
                        "tls_mismatch",
                        "warning",
                        f"Port {spec.port} usually expects "
                        + ("implicit TLS (SSL)" if spec.port == 465 else "STARTTLS")
                        + f", but the block uses {security}.",
                        block.id,
                        "smtp.port",
                        hint="Port 465: SSL/TLS. Port 587: STARTTLS (TLS on).",
                    )
                )
        try:
            settings = settings_for(block, self._accounts)
        except MailcardError as error:
            findings.append(FlowFinding(error.code, "error", error.message, block.id, "smtp", error.hint))
            return findings
        if sender_address is not None and not sender_matches_account(sender_address, settings):
            findings.append(
                FlowFinding(
                    "sender_account_mismatch",
                    "warning",
                    f"{MISMATCH_MESSAGE} (From {sender_address}, account {settings.username}).",
                    block.id,
                    "from",
                    hint="Send from the account's own address or domain, or use an account for this From.",
                )
            )
        return findings

    def _notify_agent(self, block: NotifyAgentBlock, context: Mapping[str, Any]) -> list[FlowFinding]:
        findings = self._template(block.task, context, block.id, "task", _PLAIN)
        findings += self._template(block.message, context, block.id, "message", _PLAIN)
        if block.assignee != CUSTOMER_MANAGER and self._users.by_login(block.assignee) is None:
            findings.append(
                FlowFinding(
                    "assignee_not_found",
                    "error",
                    f"No user with the login {block.assignee!r} to give the task to.",
                    block.id,
                    "assignee",
                    hint=f"Use a manager's or support user's login, or {CUSTOMER_MANAGER!r}.",
                )
            )
        return findings

    # -- templates -----------------------------------------------------------------------------------

    def _template(
        self,
        source: str,
        context: Mapping[str, Any],
        block_id: str | None,
        field: str,
        options: RenderOptions,
    ) -> list[FlowFinding]:
        try:
            unresolved = self._templates.compile(source, options, name=field).find_unresolved(context)
        except TemplateError as error:
            return [
                FlowFinding(
                    error.code, "error", error.message, block_id, field, error.hint, error.line, error.column
                )
            ]
        return [
            FlowFinding(
                "unresolved_variable",
                "error",
                f"unresolved variable {u.path}" + (f"; did you mean {u.suggestion}?" if u.suggestion else ""),
                block_id,
                field,
                "Check the spelling against the event's variables (docs/flows.md), or add |default('...').",
                u.line,
                u.column,
            )
            for u in unresolved
        ]

    def _sample(self, source: str | None, context: Mapping[str, Any], options: RenderOptions) -> str | None:
        if source is None:
            return None
        try:
            lenient = RenderOptions(autoescape=options.autoescape)
            return self._templates.render(source, context, lenient)
        except TemplateError:
            return None  # already reported by the strict pass


async def probe_flow(
    definition: FlowDefinition, accounts: SmtpAccountStore, templates: TemplateEngine
) -> list[FlowFinding]:
    """Connect to each block's SMTP server (TLS, login, MAIL FROM; nothing is sent)."""
    findings: list[FlowFinding] = []
    probed: dict[tuple[object, ...], str] = {}
    context = sample_context(definition.trigger.event, definition.trigger.sample, {})
    for block in definition.blocks:
        if not isinstance(block, SendEmailBlock):
            continue
        try:
            settings: SmtpSettings = settings_for(block, accounts)
            sender = parse_mailbox(
                templates.render(block.sender, context, RenderOptions(autoescape=None))
            ).address
        except MailcardError:
            continue  # reported by the static checks
        key = (*settings.key, sender)
        if key in probed:
            continue
        probed[key] = block.id
        result = await probe(settings, mail_from=sender, rcpt_to=None)
        if not result.ok:
            findings.append(
                FlowFinding(
                    "smtp_probe_failed",
                    "error",
                    f"SMTP test of {settings.label} failed ({result.reason}): {result.message}",
                    block.id,
                    "smtp",
                    result.hint,
                )
            )
    return findings


def _edge_field(block: Any, edge: str) -> str:
    return {"success": "on_success", "failure": "on_failure", "true": "on_true", "false": "on_false"}.get(
        edge, "next"
    )
