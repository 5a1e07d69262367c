"""Header injection (with property tests) and address parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailcard.domain.mailbox import Mailbox
from mailcard.errors import AddressError, HeaderInjectionError
from mailcard.validation import ContentToCheck, assert_header_safe, check_content
from mailcard.validation.addresses import parse_mailbox, parse_recipient_list

FORBIDDEN = "\r\n\x00"
safe_text = st.text(st.characters(blacklist_characters=FORBIDDEN, blacklist_categories=("Cs",)))


@given(safe_text, st.sampled_from(FORBIDDEN), safe_text)
def test_any_cr_lf_nul_in_subject_or_preheader_blocks(before: str, bad: str, after: str) -> None:
    value = before + bad + after
    for content, part in (
        (ContentToCheck(subject=value), "subject"),
        (ContentToCheck(preheader=value), "preheader"),
    ):
        report = check_content(content)
        assert report.verdict == "block"
        (finding,) = [f for f in report.findings if f.code == "header_injection"]
        assert finding.location is not None and finding.location.part == part
    with pytest.raises(HeaderInjectionError) as raised:
        assert_header_safe(value, "subject")
    assert raised.value.details["position"] == len(before) + 1


@given(safe_text)
def test_values_without_cr_lf_nul_pass(value: str) -> None:
    assert_header_safe(value, "subject")
    report = check_content(ContentToCheck(subject=value, preheader=value))
    assert "header_injection" not in report.codes()


def test_display_names_are_checked() -> None:
    sender = Mailbox("shop@example.com", "Shop\r\nBcc: victim@example.org")
    report = check_content(ContentToCheck(subject="Hi", sender=sender))
    (finding,) = report.blocking
    assert finding.code == "header_injection"
    assert finding.location is not None and finding.location.part == "from"


def test_header_injection_message_is_clear() -> None:
    with pytest.raises(HeaderInjectionError, match="line feed"):
        assert_header_safe("Sale\nBcc: x@example.com", "subject")


@pytest.mark.parametrize(
    ("text", "address", "name"),
    [
        ("j@x.com", "j@x.com", ""),
        ("<j@x.com>", "j@x.com", ""),
        ("John <J@Example.COM>", "J@example.com", "John"),
        ('"Doe, John" <j@x.com>', "j@x.com", "Doe, John"),
        ("客服团队 <support@company.com>", "support@company.com", "客服团队"),
        ("Иван <иван@пример.рф>", "иван@пример.рф", "Иван"),
        ("=?utf-8?b?0JjQstCw0L0=?= <ivan@example.ru>", "ivan@example.ru", "Иван"),
    ],
)
def test_parse_mailbox(text: str, address: str, name: str) -> None:
    assert parse_mailbox(text) == Mailbox(address, name)


@pytest.mark.parametrize("text", ["", "bad@", "a@b", "x <a@@b.com>", "no-at-sign.example.com"])
def test_parse_mailbox_rejects_with_the_address_named(text: str) -> None:
    with pytest.raises(AddressError) as raised:
        parse_mailbox(text)
    if text:
        assert repr(text) in raised.value.message
    assert raised.value.code == "invalid_address"


def test_recipient_list_splits_dedupes_and_reports_each_bad_entry() -> None:
    text = '"Doe, John" <j@x.com>; 客服团队 <support@company.com>, bad@\nJ@X.com,,  also bad ; ok@example.org'
    mailboxes, findings = parse_recipient_list(text)
    assert [m.address for m in mailboxes] == ["j@x.com", "support@company.com", "ok@example.org"]
    assert mailboxes[0].display_name == "Doe, John"
    assert [f.code for f in findings] == ["invalid_address", "invalid_address"]
    assert "'bad@'" in findings[0].message and "'also bad'" in findings[1].message
    assert all(f.severity == "error" and f.location is not None and f.location.part == "to" for f in findings)


def test_recipient_list_accepts_a_list() -> None:
    mailboxes, findings = parse_recipient_list(["a@x.com, b@x.com", "A@x.com"])
    assert [m.address for m in mailboxes] == ["a@x.com", "b@x.com"]
    assert findings == []


def test_recipient_with_line_break_in_quoted_name_is_header_injection() -> None:
    _, findings = parse_recipient_list('"Evil\r\nBcc: x@y.com" <a@x.com>')
    assert [f.code for f in findings] == ["header_injection"]
