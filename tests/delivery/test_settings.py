"""SMTP URL parsing, redaction and TLS context: what a user types becomes the right settings."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from mailcard.delivery.settings import (
    SmtpSettings,
    build_tls_context,
    parse_smtp_url,
    redacted_url,
    with_ca_file,
)
from mailcard.errors import SmtpUrlError
from mailcard.secret import Secret


@pytest.mark.parametrize(
    ("url", "security", "port"),
    [
        ("smtp://mail.example.com", "none", 25),
        ("smtp://mail.example.com:2525", "none", 2525),
        ("smtp+starttls://u:p@mail.example.com", "starttls", 587),
        ("smtp+starttls://u:p@mail.example.com:2587", "starttls", 2587),
        ("smtps://u:p@mail.example.com", "tls", 465),
        ("SMTPS://u:p@Mail.Example.com:465/", "tls", 465),
    ],
)
def test_schemes_and_default_ports(url: str, security: str, port: int) -> None:
    settings = parse_smtp_url(url, environ={})
    assert (settings.security, settings.port) == (security, port)
    assert settings.host == "mail.example.com"
    assert settings.verify_tls is True
    assert settings.timeout == 30.0


def test_percent_encoded_non_ascii_credentials() -> None:
    settings = parse_smtp_url(
        "smtps://support%40shop.example:p%C3%A4ss%3Aw%40rd%20%E5%AF%86@smtp.shop.example"
    )
    assert settings.username == "support@shop.example"
    assert settings.password == Secret("päss:w@rd 密")


def test_raw_non_ascii_password_is_accepted() -> None:
    settings = parse_smtp_url("smtps://客服@example.com:密码@smtp.example.com", environ={})
    assert settings.username == "客服@example.com"
    assert settings.password is not None and settings.password.reveal() == "密码"


def test_query_options() -> None:
    settings = parse_smtp_url(
        "smtp+starttls://u:p@h?timeout=10&verify=false&local_hostname=me.example&name=Shop", environ={}
    )
    assert settings.timeout == 10.0
    assert settings.verify_tls is False
    assert settings.local_hostname == "me.example"
    assert settings.name == "Shop"


def test_password_from_environment() -> None:
    settings = parse_smtp_url("smtps://u@h", password_env="SMTP_PW", environ={"SMTP_PW": "s3cret"})
    assert settings.password == Secret("s3cret")


def test_ipv6_host() -> None:
    settings = parse_smtp_url("smtp://[::1]:2525", environ={})
    assert settings.host == "::1"
    assert redacted_url(settings) == "smtp://[::1]:2525"


def test_ca_file_sources(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    assert parse_smtp_url("smtps://h", ca_file=str(ca), environ={}).ca_file == str(ca)
    # The installation-wide CA is applied where an account is used (tests/unit/test_ca_file.py), not here.
    assert parse_smtp_url("smtps://h", environ={"MAILCARD_SMTP_CA_FILE": str(ca)}).ca_file is None
    assert parse_smtp_url(f"smtps://h?ca_file={ca}", environ={}).ca_file == str(ca)
    with pytest.raises(SmtpUrlError, match="does not exist"):
        parse_smtp_url("smtps://h", ca_file=str(tmp_path / "missing.pem"), environ={})


@pytest.mark.parametrize(
    ("url", "kwargs", "match"),
    [
        ("mail.example.com:587", {}, "no scheme"),
        ("http://mail.example.com", {}, "Unknown SMTP URL scheme"),
        ("smtp+ssl://h", {}, "Unknown SMTP URL scheme"),
        ("smtps://", {}, "no host"),
        ("smtps://h:99999", {}, "not a valid SMTP URL"),
        ("smtps://h:abc", {}, "not a valid SMTP URL"),
        ("smtps://h/path", {}, "path"),
        ("smtp://h:465", {}, "port 465 expects implicit TLS"),
        ("smtps://user@h", {}, "no password"),
        ("smtps://:pw@h", {}, "password but no user"),
        ("smtps://h?timeout=soon", {}, "not a number"),
        ("smtps://h?timeout=0", {}, "must be positive"),
        ("smtps://h?verify=maybe", {}, "not true or false"),
        ("smtps://h?tls=yes", {}, "Unknown SMTP URL option"),
        ("smtps://u:p%FF@h", {}, "UTF-8"),
        ("smtps://u:p@h", {"password_env": "PW"}, "given twice"),
        ("smtps://u@h", {"password_env": "PW"}, r"\$PW"),
        ("smtp://a..b", {}, "not a host name"),
        ("smtp://-bad-.example.com", {}, "not a host name"),
        ("smtp://h?local_hostname=a%20b", {}, "not a host name"),
        ("smtp://h?local_hostname=a%0D%0AMAIL", {}, "not a host name"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, kwargs: dict[str, str], match: str) -> None:
    with pytest.raises(SmtpUrlError, match=match) as info:
        parse_smtp_url(url, environ={}, **kwargs)  # type: ignore[arg-type]
    assert info.value.code == "smtp_settings_invalid"


def test_error_messages_never_contain_the_password() -> None:
    with pytest.raises(SmtpUrlError) as info:
        parse_smtp_url("smtps://user:hunter2@h:notaport", environ={})
    assert "hunter2" not in str(info.value)
    assert "hunter2" not in repr(info.value.to_dict())


def test_redacted_url_masks_password() -> None:
    settings = parse_smtp_url("smtp+starttls://a%40b.c:hunter2@h:587?timeout=10&verify=false", environ={})
    shown = redacted_url(settings)
    assert "hunter2" not in shown
    assert shown == "smtp+starttls://a%40b.c:********@h:587?timeout=10&verify=false"
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in repr(settings.key)


def test_redacted_url_round_trips_without_password() -> None:
    settings = parse_smtp_url("smtps://h:465", environ={})
    assert parse_smtp_url(redacted_url(settings), environ={}) == settings


def test_key_changes_with_password_and_ignores_name() -> None:
    a = SmtpSettings("h", 465, "tls", "u", Secret("one"), name="A")
    b = SmtpSettings("H", 465, "tls", "u", Secret("one"), name="B")
    c = SmtpSettings("h", 465, "tls", "u", Secret("two"))
    assert a.key == b.key
    assert a.key != c.key
    assert hash(a.key) == hash(b.key)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"host": "", "port": 25},
        {"host": "a b", "port": 25},
        {"host": "h", "port": 0},
        {"host": "h", "port": 70000},
    ],
)
def test_direct_construction_is_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(SmtpUrlError):
        SmtpSettings(security="none", username=None, password=None, **kwargs)  # type: ignore[arg-type]


def test_tls_context_verifies_by_default() -> None:
    context = build_tls_context(SmtpSettings("h", 465, "tls", None, None))
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True


def test_tls_context_insecure_only_when_asked() -> None:
    context = build_tls_context(SmtpSettings("h", 465, "tls", None, None, verify_tls=False))
    assert context.verify_mode == ssl.CERT_NONE
    assert context.check_hostname is False


def test_unusable_ca_file_is_a_configuration_error(tmp_path: Path) -> None:
    bogus = tmp_path / "not-a-cert.pem"
    bogus.write_text("hello")
    with pytest.raises(SmtpUrlError, match="cannot be used"):
        build_tls_context(SmtpSettings("h", 465, "tls", None, None, ca_file=str(bogus)))


def test_hosts_and_ehlo_names_that_are_fine() -> None:
    for url in ("smtp://почта.рф", "smtp://host_name.local", "smtp://[2001:db8::1]", "smtp://192.0.2.1"):
        parse_smtp_url(url)
    assert parse_smtp_url("smtp://h?local_hostname=mail.example.com").local_hostname == "mail.example.com"
    assert parse_smtp_url("smtp://h?local_hostname=[192.0.2.1]").local_hostname == "[192.0.2.1]"


def test_with_ca_file_checks_the_file_now(tmp_path: Path) -> None:
    settings = parse_smtp_url("smtps://u:p@h")
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate", encoding="utf-8")
    for path in (str(tmp_path / "missing.pem"), str(not_pem)):
        with pytest.raises(SmtpUrlError, match="cannot be used"):
            with_ca_file(settings, path)
