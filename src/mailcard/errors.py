"""The one exception tree of mailcard.

Every error a user can meet carries a stable ``code`` (snake_case, never renamed), a plain-language
``message`` and, where we can give one, a ``hint`` saying what to do. Third-party exceptions
(aiosmtplib, SQLAlchemy, selectolax, ...) are translated into this tree at the adapter that calls
them; nothing above an adapter catches a foreign exception.

::

    MailcardError                      code, message, hint, details
    ├── ConfigurationError             broken setup: fails loudly, never becomes a "failed" message
    │   └── SmtpUrlError               an SMTP URL or inline SMTP settings that cannot be used
    ├── InputError                     bad input from a user or a script (CLI usage, API body)
    │   ├── AddressError               an e-mail address or recipient list that does not parse
    │   └── HeaderInjectionError       CR, LF or NUL where a header value goes
    ├── TemplateError                  a template that does not compile or render (line, column)
    │   ├── TemplateSyntaxError
    │   ├── TemplateRuntimeError
    │   ├── UnresolvedVariableError    strict mode: a variable the context does not have
    │   └── TemplateLimitError         a runaway template: output size, loop steps, time
    ├── ContentBlockedError            validation found an error-severity finding; carries findings
    ├── FlowInvalidError               a flow with error findings is not activated; carries all of them
    ├── NotFoundError
    ├── ConflictError
    ├── AuthenticationError            who are you? (401)
    ├── PermissionDeniedError          you may not (403)
    │   └── SenderNotVerifiedError     the chosen From address is not confirmed for sending
    └── DeliveryError                  one attempt to hand a message to SMTP failed
                                       reason, transient, smtp_code, enhanced_code, server_text

``DeliveryError`` is per message and per attempt; the worker turns it into an attempt record and a
retry decision. ``ConfigurationError`` is about the installation and is never retried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "AddressError",
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "ContentBlockedError",
    "DeliveryError",
    "FlowInvalidError",
    "HeaderInjectionError",
    "InputError",
    "MailcardError",
    "NotFoundError",
    "PermissionDeniedError",
    "SenderNotVerifiedError",
    "SmtpUrlError",
    "TemplateError",
    "TemplateLimitError",
    "TemplateRuntimeError",
    "TemplateSyntaxError",
    "UnresolvedVariableError",
]


class MailcardError(Exception):
    """Root of every error mailcard raises on purpose."""

    code: str = "error"
    http_status: int = 500

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        hint: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.hint = hint
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view, safe to show to users (never contains secrets)."""
        data: dict[str, Any] = {"code": self.code, "message": self.message, "hint": self.hint}
        data.update(self.details)
        return data

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} ({self.hint})"


class ConfigurationError(MailcardError):
    code = "configuration_error"
    http_status = 500


class SmtpUrlError(ConfigurationError):
    code = "smtp_settings_invalid"
    http_status = 422


class InputError(MailcardError):
    code = "invalid_input"
    http_status = 422


class AddressError(InputError):
    """An address that does not parse; ``details['address']`` names it."""

    code = "invalid_address"


class HeaderInjectionError(InputError):
    code = "header_injection"


class FlowInvalidError(MailcardError):
    """A flow definition that cannot be activated; ``findings`` lists every problem at once.

    Like :class:`ContentBlockedError` (not an :class:`InputError`): the activation ran and refused.
    """

    code = "flow_invalid"
    http_status = 422

    def __init__(self, message: str, *, findings: Sequence[Any], hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.findings = list(findings)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["findings"] = [f.to_dict() if hasattr(f, "to_dict") else f for f in self.findings]
        return data


class TemplateError(MailcardError):
    """A template problem, located at ``line`` and ``column`` (1-based) of the template ``name``."""

    code = "template_error"
    http_status = 422

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        name: str | None = None,
        code: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, code=code, hint=hint)
        self.line = line
        self.column = column
        self.name = name

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data.update({"line": self.line, "column": self.column, "template": self.name})
        return data


class TemplateSyntaxError(TemplateError):
    code = "template_syntax_error"


class TemplateRuntimeError(TemplateError):
    code = "template_runtime_error"


class UnresolvedVariableError(TemplateRuntimeError):
    code = "unresolved_variable"


class TemplateLimitError(TemplateRuntimeError):
    code = "template_limit_exceeded"


class ContentBlockedError(MailcardError):
    """Validation found error-severity findings; the send, mailing or activation does not happen."""

    code = "content_blocked"
    http_status = 422

    def __init__(self, message: str, *, findings: Sequence[Any], hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.findings = list(findings)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["findings"] = [f.to_dict() if hasattr(f, "to_dict") else f for f in self.findings]
        return data


class NotFoundError(MailcardError):
    code = "not_found"
    http_status = 404


class ConflictError(MailcardError):
    code = "conflict"
    http_status = 409


class AuthenticationError(MailcardError):
    code = "authentication_required"
    http_status = 401


class PermissionDeniedError(MailcardError):
    code = "permission_denied"
    http_status = 403


class SenderNotVerifiedError(PermissionDeniedError):
    code = "sender_not_verified"


class DeliveryError(MailcardError):
    """One delivery attempt failed.

    ``reason`` is a stable reason code (``auth_failed``, ``tls_mismatch``, ...; see
    :mod:`mailcard.delivery.reasons`), ``transient`` says whether trying again later can help, and the
    SMTP fields keep the server's own evidence.
    """

    http_status = 502

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        transient: bool,
        smtp_code: int | None = None,
        enhanced_code: str | None = None,
        server_text: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, code=reason, hint=hint)
        self.reason = reason
        self.transient = transient
        self.smtp_code = smtp_code
        self.enhanced_code = enhanced_code
        self.server_text = server_text

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data.update(
            {
                "reason": self.reason,
                "transient": self.transient,
                "smtp_code": self.smtp_code,
                "enhanced_code": self.enhanced_code,
                "server_text": self.server_text,
            }
        )
        return data
