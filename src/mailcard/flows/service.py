"""What the API and the CLI call: validate a definition, activate or deactivate a flow, take events in.

Activation validates everything (:class:`~mailcard.flows.check.FlowChecker`, optionally a live SMTP
probe) and refuses with every error finding at once; otherwise it seals inline SMTP passwords into
encrypted accounts and stores the definition as a new version when it changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mailcard.digests import json_digest
from mailcard.errors import FlowInvalidError
from mailcard.flows.check import FlowChecker, probe_flow
from mailcard.flows.findings import FlowFinding, blocking
from mailcard.flows.model import FlowDefinition
from mailcard.flows.parse import load_definition, parse_definition
from mailcard.flows.smtp import seal_inline_secrets
from mailcard.flows.store import FlowRecord, FlowStore, FlowVersion
from mailcard.rendering import TemplateEngine
from mailcard.smtp_accounts import SmtpAccountStore

__all__ = ["Activation", "FlowService", "Validation"]


@dataclass(frozen=True)
class Validation:
    definition: FlowDefinition | None
    findings: list[FlowFinding]

    @property
    def valid(self) -> bool:
        return self.definition is not None and not blocking(self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "flow_id": self.definition.id if self.definition else None,
            "errors": sum(1 for f in self.findings if f.severity == "error"),
            "warnings": sum(1 for f in self.findings if f.severity == "warning"),
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class Activation:
    flow: FlowRecord
    version: FlowVersion
    created: bool  # False: the definition was unchanged; the current version is active again
    findings: list[FlowFinding]

    def to_dict(self) -> dict[str, Any]:
        return {
            "flow_id": self.flow.id,
            "version": self.version.version,
            "new_version": self.created,
            "active": self.flow.active,
            "findings": [f.to_dict() for f in self.findings],
        }


class FlowService:
    def __init__(
        self,
        store: FlowStore,
        checker: FlowChecker,
        accounts: SmtpAccountStore,
        templates: TemplateEngine,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self._checker = checker
        self._accounts = accounts
        self._templates = templates
        self._clock = clock

    def validate(
        self, source: str | dict[str, Any], *, filename: str = "", probe: bool = False
    ) -> Validation:
        """Every finding about the definition (text in JSON or YAML, or parsed data); stores nothing."""
        definition, findings = (
            load_definition(source, filename=filename)
            if isinstance(source, str)
            else parse_definition(source)
        )
        if definition is None:
            return Validation(None, findings)
        findings += self._checker.check(definition)
        if probe and not blocking(findings):
            findings += asyncio.run(probe_flow(definition, self._accounts, self._templates))
        return Validation(definition, findings)

    def activate(
        self,
        source: str | dict[str, Any],
        *,
        filename: str = "",
        probe: bool = False,
        user_id: int | None = None,
    ) -> Activation:
        """Validate, then store (a new version when changed) and activate; refuses with all errors."""
        checked = self.validate(source, filename=filename, probe=probe)
        if not checked.valid or checked.definition is None:
            errors = blocking(checked.findings)
            raise FlowInvalidError(
                f"The flow was not activated: {len(errors)} error(s), e.g. {errors[0].message}",
                findings=checked.findings,
                hint="Fix every error finding (each names its block and field), then activate again.",
            )
        sealed = seal_inline_secrets(checked.definition, self._accounts)
        version, created = self.store.save_version(
            flow_id=sealed.id,
            name=sealed.name,
            trigger_event=sealed.trigger.event,
            definition=sealed.stored_form(),
            digest=json_digest(sealed.stored_form()),
            findings=[f.to_dict() for f in checked.findings],
            user_id=user_id,
            now=self._clock(),
        )
        return Activation(self.store.get_flow(sealed.id), version, created, checked.findings)

    def set_active(self, flow_id: str, active: bool) -> FlowRecord:
        """Deactivate (new events start nothing; runs under way finish) or re-activate the current version."""
        return self.store.set_active(flow_id, active, now=self._clock())
