"""The finding model every check returns: ``Finding``, ``Location`` and the ``Report`` verdict.

Other layers (API, CLI, mailing activation) depend on these names and on ``to_dict()``; keep them
stable. A finding is a plain value: it says what is wrong, how bad it is and what to do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
Part = Literal["subject", "preheader", "html", "text", "from", "to", "cc", "bcc", "reply_to"]
Verdict = Literal["ok", "warn", "block"]

__all__ = ["Finding", "Location", "Part", "Report", "Severity", "Verdict"]


@dataclass(frozen=True, slots=True)
class Location:
    """Where a finding is: the message part and, when known, a 1-based line and column in it."""

    part: Part
    line: int | None = None
    column: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"part": self.part, "line": self.line, "column": self.column}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in the content.

    ``code`` is stable snake_case (``shortened_link``, ``unsafe_script``, ...); ``message`` is a
    plain-language sentence naming the offending thing and what to do; ``excerpt`` is a short piece of
    the offending input.
    """

    code: str
    severity: Severity
    message: str
    hint: str | None = None
    location: Location | None = None
    excerpt: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
            "location": None if self.location is None else self.location.to_dict(),
            "excerpt": self.excerpt,
        }


@dataclass(frozen=True, slots=True)
class Report:
    """All findings of one check, with the resulting verdict."""

    findings: tuple[Finding, ...] = field(default_factory=tuple)

    def __init__(self, findings: Iterable[Finding] = ()) -> None:
        object.__setattr__(self, "findings", tuple(findings))

    @property
    def verdict(self) -> Verdict:
        """``block`` if any error, ``warn`` if any warning, else ``ok``."""
        severities = {f.severity for f in self.findings}
        if "error" in severities:
            return "block"
        if "warning" in severities:
            return "warn"
        return "ok"

    @property
    def blocking(self) -> list[Finding]:
        """The error-severity findings: the ones that stop a send, mailing or rule."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "findings": [f.to_dict() for f in self.findings]}
