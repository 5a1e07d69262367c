"""The stable delivery reason codes: what went wrong, whether retrying can help, what to do.

This module owns the catalogue only (:data:`REASONS`); deciding which reason a given failure is
belongs to :mod:`mailcard.delivery.classify`. Codes are a public contract (attempt records, the
``--json`` output of the CLI, the API): add new ones, never rename or remove one.

``transient`` here is the *default*; the classifier may override it for one failure (a 4xx reply
is always transient, a 5xx reply always permanent, whatever its reason).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["REASONS", "Reason", "reason"]


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason code: ``summary`` says what happened, ``hint`` what the user can do about it."""

    code: str
    transient: bool
    summary: str
    hint: str


_ALL: Final[tuple[Reason, ...]] = (
    Reason(
        "connect_failed",
        True,
        "Could not connect to the SMTP server",
        "Check the SMTP host and port, and that no firewall blocks outgoing connections to that port.",
    ),
    Reason(
        "connect_timeout",
        True,
        "Connecting to the SMTP server timed out",
        "Check the SMTP host and port; many networks and cloud providers block outgoing port 25, "
        "use port 587 (STARTTLS) or 465 (SSL/TLS) instead.",
    ),
    Reason(
        "dns_failed",
        False,
        "The SMTP host name could not be resolved",
        "Check the spelling of the SMTP host (for example smtp.gmail.com) and the DNS of this machine.",
    ),
    Reason(
        "tls_failed",
        False,
        "The secure (TLS) connection to the SMTP server failed",
        "Check that the host name matches the server's certificate; for a server with a private "
        "certificate, give its CA with --ca-file (or MAILCARD_SMTP_CA_FILE).",
    ),
    Reason(
        "tls_mismatch",
        False,
        "The SMTP security setting does not match the port",
        "Port 465 expects implicit TLS: choose SSL/TLS, or use port 587 with STARTTLS. "
        "Port 587 expects STARTTLS: choose STARTTLS, or use port 465 with SSL/TLS.",
    ),
    Reason(
        "tls_required",
        False,
        "The SMTP server requires an encrypted connection before login",
        "Choose STARTTLS (port 587) or SSL/TLS (port 465) instead of no encryption.",
    ),
    Reason(
        "auth_failed",
        False,
        "The SMTP server rejected the login: wrong account or password",
        "Check the SMTP username (usually the full e-mail address) and password. Providers such as "
        "Gmail, Outlook, QQ or 163 need an app password (authorization code), not the account password.",
    ),
    Reason(
        "auth_required",
        False,
        "The SMTP server requires a login before sending",
        "Set the SMTP username and password of the account.",
    ),
    Reason(
        "auth_unsupported",
        False,
        "The SMTP server offers no login method mailcard can use",
        "mailcard logs in with AUTH PLAIN or LOGIN; if the server offers them only after STARTTLS, "
        "choose STARTTLS or SSL/TLS. Otherwise remove the username to send without login.",
    ),
    Reason(
        "sender_rejected",
        False,
        "The SMTP server refused the sender (From) address",
        "The From address must be the SMTP account's own address or one the account is allowed to "
        "send as; also check the sender domain's SPF/DMARC records.",
    ),
    Reason(
        "recipient_rejected",
        False,
        "The SMTP server refused the recipient address",
        "Check the recipient's address for typos; the mailbox may not exist or may be full.",
    ),
    Reason(
        "relay_denied",
        False,
        "The SMTP server refused to relay to this recipient (relay access denied)",
        "Log in with the SMTP account (username and password) so the server relays for you, and "
        "use the server of the account the From address belongs to.",
    ),
    Reason(
        "message_too_large",
        False,
        "The message is larger than the SMTP server accepts",
        "Make the message smaller: fewer or smaller attachments and images (link to large files).",
    ),
    Reason(
        "content_rejected",
        False,
        "The SMTP server refused the message content (policy or spam filter)",
        "Read the server's reply; remove what the filter objects to (links, attachments, wording) "
        "and make sure the sender domain has SPF, DKIM and DMARC.",
    ),
    Reason(
        "rate_limited",
        True,
        "The SMTP server is limiting how much this account may send",
        "mailcard tries again later; if it keeps happening, send fewer messages per hour or ask "
        "the provider for a higher sending limit.",
    ),
    Reason(
        "server_unavailable",
        True,
        "The SMTP server is temporarily unavailable",
        "mailcard tries again later; if it persists, check the server's status with its operator.",
    ),
    Reason(
        "connection_lost",
        True,
        "The SMTP server closed the connection unexpectedly",
        "mailcard tries again later. If this happened while the message was being sent, the "
        "recipient may receive it twice.",
    ),
    Reason(
        "timeout",
        True,
        "The SMTP server did not answer in time",
        "mailcard tries again later; if it persists, raise the timeout (?timeout=60) or check the "
        "server's load.",
    ),
    Reason(
        "protocol_error",
        False,
        "The SMTP conversation failed: the server's reply was not understood or not expected",
        "Check that the host and port are an SMTP submission service (587 or 465), not a web or IMAP port.",
    ),
    Reason(
        "smtputf8_unsupported",
        False,
        "The SMTP server cannot take non-ASCII (internationalized) addresses (no SMTPUTF8)",
        "Use ASCII addresses for this message, or a server that offers SMTPUTF8.",
    ),
    Reason(
        "invalid_envelope",
        False,
        "The sender or a recipient address cannot be used in an SMTP envelope",
        "Check the addresses: no spaces, line breaks or angle brackets, one @.",
    ),
)

REASONS: Final[Mapping[str, Reason]] = {r.code: r for r in _ALL}


def reason(code: str) -> Reason:
    """The catalogue entry for ``code``; a ``KeyError`` means a programming error, not user input."""
    return REASONS[code]
