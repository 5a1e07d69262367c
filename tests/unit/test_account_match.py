"""The From-vs-SMTP-login warning, for saved accounts and for MAILCARD_SMTP_URL."""

from __future__ import annotations

from mailcard.delivery.accounts import AccountLimits
from mailcard.delivery.settings import parse_smtp_url
from mailcard.senders.account_match import sender_account_warning
from mailcard.smtp_accounts import SmtpAccount


def _account(username: str | None) -> SmtpAccount:
    return SmtpAccount(
        id=1,
        name="provider",
        kind="saved",
        host="smtp.example.com",
        port=587,
        security="starttls",
        username=username,
        has_password=True,
        from_filter=None,
        is_default=True,
        limits=AccountLimits(),
    )


def test_login_and_its_domain_match_other_domains_warn() -> None:
    account = _account("robot@shop.example.com")
    assert sender_account_warning("robot@shop.example.com", account) is None
    assert sender_account_warning("olga@shop.example.com", account) is None
    warning = sender_account_warning("olga@other.example.org", account)
    assert warning is not None and warning.code == "sender_account_mismatch"
    assert "robot@shop.example.com" in warning.message and "553" in warning.message


def test_api_key_logins_and_anonymous_relays_are_not_judged() -> None:
    assert sender_account_warning("olga@other.example.org", _account("apikey")) is None
    assert sender_account_warning("olga@other.example.org", _account(None)) is None


def test_the_installation_url_is_judged_when_no_saved_account_applies() -> None:
    fallback = parse_smtp_url("smtp+starttls://robot%40shop.example.com:pw@smtp.example.com:587")
    warning = sender_account_warning("olga@other.example.org", None, fallback=fallback)
    assert warning is not None and "MAILCARD_SMTP_URL" in warning.message
    assert sender_account_warning("olga@other.example.org", None) is None
