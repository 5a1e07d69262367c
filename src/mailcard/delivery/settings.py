"""SMTP account settings: the value every delivery component receives, and the URL form users type.

This module owns :class:`SmtpSettings` (host, port, security mode, login, TLS trust), the SMTP URL
grammar (:func:`parse_smtp_url`, :func:`redacted_url`) and the TLS context built from them
(:func:`build_tls_context`). It does not connect anywhere; :mod:`mailcard.delivery.smtp` does.

URL forms::

    smtp://host:25                              no encryption (only when chosen explicitly)
    smtp+starttls://user:pass@host:587          STARTTLS upgrade ("TLS" in most mail apps)
    smtps://user:pass@host:465                  implicit TLS from the first byte ("SSL")
    ...?timeout=10&verify=false&ca_file=/path&local_hostname=me.example

User and password are percent-encoded UTF-8 (``%40`` for ``@``, non-ASCII allowed).
"""

from __future__ import annotations

import ipaddress
import os
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final, Literal, get_args
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from mailcard.errors import SmtpUrlError
from mailcard.secret import MASK, Secret, masked_url

__all__ = [
    "DEFAULT_PORTS",
    "SCHEMES",
    "Security",
    "SmtpSettings",
    "build_tls_context",
    "parse_smtp_url",
    "redacted_url",
]

Security = Literal["starttls", "tls", "none"]

SCHEMES: Final[Mapping[str, Security]] = {
    "smtp": "none",
    "smtp+starttls": "starttls",
    "smtps": "tls",
}
DEFAULT_PORTS: Final[Mapping[Security, int]] = {"none": 25, "starttls": 587, "tls": 465}
_SCHEME_OF: Final[Mapping[Security, str]] = {security: scheme for scheme, security in SCHEMES.items()}
_HOST_NAME: Final = re.compile(
    r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*"
)
_QUERY_OPTIONS: Final = ("timeout", "verify", "ca_file", "local_hostname", "name")
_URL_HINT: Final = (
    "Use smtp+starttls://USER:PASSWORD@HOST:587 (STARTTLS) or smtps://USER:PASSWORD@HOST:465 (SSL/TLS); "
    "percent-encode special characters in the user and password (@ is %40, : is %3A)."
)


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach and log in to one SMTP account.

    ``security`` is ``"starttls"`` (connect in plain text, then upgrade: port 587), ``"tls"`` (TLS
    from the first byte: port 465) or ``"none"`` (no encryption: only when chosen explicitly).
    ``verify_tls=False`` disables certificate checks and is insecure; ``ca_file`` adds trust in a
    private CA instead, which is almost always what is wanted. ``name`` is a label for messages.
    """

    host: str
    port: int
    security: Security
    username: str | None
    password: Secret | None
    timeout: float = 30.0
    ca_file: str | None = None
    verify_tls: bool = True
    local_hostname: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if not self.host or any(c in self.host for c in " /\\@\r\n\0"):
            # A whole URL pasted where the host goes may carry a password: never echo it.
            raise SmtpUrlError(f"SMTP host {_shown(self.host)} is not a host name", hint=_URL_HINT)
        if not 0 < self.port < 65536:
            raise SmtpUrlError(f"SMTP port {self.port} is out of range (1-65535)", hint=_URL_HINT)
        if self.security not in get_args(Security):
            raise SmtpUrlError(
                f"SMTP security {self.security!r} is unknown",
                hint='Choose "starttls" (port 587), "tls" (port 465) or "none".',
            )
        if not self.timeout > 0:
            raise SmtpUrlError(f"SMTP timeout must be positive, got {self.timeout}")
        if (self.password is not None) and not self.username:
            raise SmtpUrlError("An SMTP password was given without a username", hint=_URL_HINT)

    @property
    def key(self) -> tuple[object, ...]:
        """Identity for connection pooling: settings with the same key may share connections.

        The password is part of the key (as a :class:`Secret`, so it never prints) so that a changed
        password opens fresh connections instead of reusing ones logged in with the old one.
        """
        return (
            self.host.lower(),
            self.port,
            self.security,
            self.username,
            self.password,
            self.timeout,
            self.ca_file,
            self.verify_tls,
            self.local_hostname,
        )

    @property
    def label(self) -> str:
        """A short human name: ``name`` if set, else ``host:port``."""
        return self.name or f"{self.host}:{self.port}"


def parse_smtp_url(
    url: str,
    *,
    password_env: str | None = None,
    ca_file: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> SmtpSettings:
    """Parse an SMTP URL (see the module docstring) into :class:`SmtpSettings`.

    ``password_env`` names an environment variable holding the password (``--smtp-password-env``),
    so it need not appear in the URL, shell history or process list. ``ca_file`` (``--ca-file``)
    is used when the URL names none; the installation-wide ``MAILCARD_SMTP_CA_FILE`` is applied by
    the composition root when an account is used, never here, so it is never stored with an account.
    Raises :class:`SmtpUrlError` with a hint.
    """
    env = os.environ if environ is None else environ
    text = url.strip()
    if "://" not in text:
        raise SmtpUrlError(f"{_shown(text)} is not an SMTP URL (no scheme)", hint=_URL_HINT)
    try:
        parts = urlsplit(text)
        port = parts.port
        host = parts.hostname
    except ValueError as exc:
        raise SmtpUrlError(f"{_shown(text)} is not a valid SMTP URL: {exc}", hint=_URL_HINT) from None

    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        known = ", ".join(f"{s}://" for s in SCHEMES)
        raise SmtpUrlError(
            f"Unknown SMTP URL scheme {parts.scheme!r}; expected one of {known}", hint=_URL_HINT
        )
    security = SCHEMES[scheme]
    if not host:
        raise SmtpUrlError(f"{_shown(text)} has no host", hint=_URL_HINT)
    if not _is_host(host):
        raise SmtpUrlError(f"{host!r} is not a host name or an IP address", hint=_URL_HINT)
    if parts.path not in ("", "/") or parts.fragment:
        raise SmtpUrlError(f"{_shown(text)} has a path or fragment; an SMTP URL has neither", hint=_URL_HINT)
    if port is None:
        port = DEFAULT_PORTS[security]
    if security == "none" and port == 465:
        raise SmtpUrlError(
            "smtp:// on port 465 cannot work: port 465 expects implicit TLS",
            hint=f"Use smtps://{host}:465 (SSL/TLS), or smtp+starttls://{host}:587 (STARTTLS).",
        )

    try:
        username = unquote(parts.username, errors="strict") if parts.username else None
        password_text = unquote(parts.password, errors="strict") if parts.password is not None else None
    except UnicodeDecodeError:
        raise SmtpUrlError(
            "The user or password in the SMTP URL is not valid percent-encoded UTF-8", hint=_URL_HINT
        ) from None
    if password_env is not None:
        if password_text is not None:
            raise SmtpUrlError(
                "The SMTP password is given twice: in the URL and in an environment variable",
                hint=f"Remove the password from the URL and keep ${password_env}.",
            )
        password_text = env.get(password_env)
        if not password_text:
            raise SmtpUrlError(
                f"Environment variable ${password_env} (the SMTP password) is not set or empty",
                hint=f"export {password_env}='...' before running mailcard.",
            )
    if username and not password_text:
        raise SmtpUrlError(
            f"The SMTP URL has the user {username!r} but no password",
            hint="Put it in the URL (percent-encoded) or pass --smtp-password-env VAR.",
        )
    if password_text and not username:
        raise SmtpUrlError("The SMTP URL has a password but no user", hint=_URL_HINT)

    options = _parse_query(parts.query)
    timeout = 30.0
    if "timeout" in options:
        try:
            timeout = float(options["timeout"])
        except ValueError:
            raise SmtpUrlError(f"timeout={options['timeout']!r} is not a number of seconds") from None
    verify_tls = True
    if "verify" in options:
        verify_tls = _parse_bool("verify", options["verify"])
    chosen_ca = options.get("ca_file") or ca_file or None
    if chosen_ca is not None and not os.path.isfile(chosen_ca):
        raise SmtpUrlError(
            f"CA file {chosen_ca!r} does not exist",
            hint="Give the PEM file of the CA that signed the SMTP server's certificate.",
        )

    local_hostname = options.get("local_hostname") or None
    if local_hostname is not None and not _is_ehlo_name(local_hostname):
        raise SmtpUrlError(
            f"local_hostname={local_hostname!r} is not a host name",
            hint="The name this machine gives in EHLO, e.g. mail.example.com or [192.0.2.1].",
        )

    return SmtpSettings(
        host=host,
        port=port,
        security=security,
        username=username,
        password=Secret(password_text) if password_text else None,
        timeout=timeout,
        ca_file=chosen_ca,
        verify_tls=verify_tls,
        local_hostname=local_hostname,
        name=options.get("name") or None,
    )


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_host(host: str) -> bool:
    """An IP address, or a name whose every label is 1-63 octets once IDNA-encoded."""
    if _is_ip(host):
        return True
    try:
        ascii_host = host.rstrip(".").encode("idna")
    except UnicodeError:  # an empty or over-long label, or characters IDNA refuses
        return False
    return 0 < len(ascii_host) <= 253 and _HOST_NAME.fullmatch(ascii_host.decode("ascii")) is not None


def _is_ehlo_name(name: str) -> bool:
    """What RFC 5321 lets a client give in EHLO: an ASCII host name, or an address literal."""
    if name.startswith("[") and name.endswith("]"):
        return _is_ip(name[1:-1].removeprefix("IPv6:"))
    return name.isascii() and _is_host(name)


def with_ca_file(settings: SmtpSettings, ca_file: str) -> SmtpSettings:
    """``settings`` trusting only ``ca_file`` (``--ca-file``), checked now: a file that is missing or
    holds no certificate would otherwise fail each delivery attempt later."""
    chosen = replace(settings, ca_file=ca_file)
    build_tls_context(chosen)  # raises SmtpUrlError
    return chosen


def redacted_url(settings: SmtpSettings) -> str:
    """The settings as an SMTP URL with the password masked: safe for logs, CLI output and the UI."""
    userinfo = ""
    if settings.username:
        userinfo = quote(settings.username, safe="")
        if settings.password is not None:
            userinfo += ":" + MASK
        userinfo += "@"
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    query: list[str] = []
    if settings.timeout != 30.0:
        query.append(f"timeout={settings.timeout:g}")
    if not settings.verify_tls:
        query.append("verify=false")
    if settings.ca_file:
        query.append("ca_file=" + quote(settings.ca_file))
    if settings.local_hostname:
        query.append("local_hostname=" + quote(settings.local_hostname))
    suffix = "?" + "&".join(query) if query else ""
    return f"{_SCHEME_OF[settings.security]}://{userinfo}{host}:{settings.port}{suffix}"


def build_tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    """The client TLS context for ``settings``: verification on, unless ``verify_tls=False``.

    With ``ca_file`` only that CA is trusted; otherwise the system store is used, which OpenSSL
    lets ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` override.
    """
    try:
        context = ssl.create_default_context(cafile=settings.ca_file)
    except (OSError, ssl.SSLError) as exc:
        # A broken CA file is a setup problem (ConfigurationError), not a failed delivery.
        raise SmtpUrlError(
            f"CA file {settings.ca_file!r} cannot be used: {exc}",
            hint="Give the PEM file of the CA that signed the SMTP server's certificate.",
        ) from None
    if not settings.verify_tls:
        # Insecure by explicit request (verify=false): anyone on the path can read the password.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _parse_query(query: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise SmtpUrlError(f"The SMTP URL options {query!r} do not parse", hint=_URL_HINT) from None
    options: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        if key not in _QUERY_OPTIONS:
            raise SmtpUrlError(
                f"Unknown SMTP URL option {name!r}",
                hint="Known options: " + ", ".join(_QUERY_OPTIONS) + ".",
            )
        options[key] = value
    return options


def _parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SmtpUrlError(f"{name}={value!r} is not true or false")


def _shown(url: str) -> str:
    """The URL for an error message, with anything that may be a password masked."""
    return repr(masked_url(url, cautious=True))
