"""``FlowFinding``: one problem found in a flow definition, located at a block and a field.

Shaped like :class:`mailcard.validation.Finding` (code, severity, message, hint) plus where in the
flow it is, so the API and CLI can report every finding of an activation at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from mailcard.validation import Finding

Severity = Literal["error", "warning", "info"]

__all__ = ["FlowFinding", "blocking", "from_content_finding"]


@dataclass(frozen=True, slots=True)
class FlowFinding:
    code: str
    severity: Severity
    message: str
    block_id: str | None = None
    field: str | None = None
    hint: str | None = None
    line: int | None = None
    column: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "block_id": self.block_id,
            "field": self.field,
            "hint": self.hint,
            "line": self.line,
            "column": self.column,
        }


def from_content_finding(finding: Finding, block_id: str, field: str | None = None) -> FlowFinding:
    location = finding.location
    return FlowFinding(
        code=finding.code,
        severity=finding.severity,
        message=finding.message,
        block_id=block_id,
        field=field or (location.part if location else None),
        hint=finding.hint,
        line=location.line if location else None,
        column=location.column if location else None,
    )


def blocking(findings: Iterable[FlowFinding]) -> list[FlowFinding]:
    return [f for f in findings if f.severity == "error"]
