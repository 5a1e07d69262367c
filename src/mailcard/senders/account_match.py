"""The warning users know from the product docs: From differs from the SMTP account."""

from __future__ import annotations

from typing import cast

from mailcard.delivery.probe import sender_matches_account
from mailcard.delivery.settings import Security, SmtpSettings
from mailcard.smtp_accounts import SmtpAccount
from mailcard.validation.findings import Finding, Location


def sender_account_warning(
    from_address: str, account: SmtpAccount | None, *, fallback: SmtpSettings | None = None
) -> Finding | None:
    """A warning when From is neither the SMTP login nor in its domain (it may fail or land in spam).

    ``account`` is the saved account that will send; without one, ``fallback`` (the installation's
    ``MAILCARD_SMTP_URL``) sends, and is judged the same way.
    """
    if account is not None:
        settings = SmtpSettings(
            host=account.host,
            port=account.port,
            security=cast(Security, account.security),
            username=account.username,
            password=None,
        )
        label = f"account {account.name!r}"
    elif fallback is not None:
        settings, label = fallback, "MAILCARD_SMTP_URL"
    else:
        return None
    return sender_settings_warning(from_address, settings, label)


def sender_settings_warning(from_address: str, settings: SmtpSettings, label: str) -> Finding | None:
    """The same warning for the SMTP settings that will send (``label`` names them to the user)."""
    if not settings.username or sender_matches_account(from_address, settings):
        return None
    return Finding(
        code="sender_account_mismatch",
        severity="warning",
        message=(
            f"From {from_address} differs from the SMTP account's login {settings.username} "
            f"({label}): the server may refuse it (553) or the message may land in spam."
        ),
        hint=(
            "Send from the account's own address or domain, use an SMTP account for this address "
            "(set its From filter), or make sure the server allows this sender."
        ),
        location=Location(part="from"),
    )
