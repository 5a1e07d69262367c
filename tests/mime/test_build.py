"""Example-based tests of ``build_message``: layout, encodings, envelope, errors."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta, timezone

import pytest
from tests.mime.helpers import assert_wire_rules, content, mailboxes, parse

from mailcard.domain.mailbox import Mailbox
from mailcard.errors import AddressError, HeaderInjectionError, InputError
from mailcard.mime import BuiltMessage, MessageDraft, build_message
from mailcard.mime.builder import format_date

SENDER = Mailbox("shop@example.com", "Магазин Ромашка")
TO = (Mailbox("ivan@example.org", "Иван Петров"),)


def build(**changes: object) -> BuiltMessage:
    fields: dict[str, object] = {"sender": SENDER, "to": TO, "subject": "Hello", "text": "Hi!\n"}
    fields.update(changes)
    built = build_message(MessageDraft(**fields))  # type: ignore[arg-type]
    assert_wire_rules(built)
    return built


def test_multipart_alternative_text_first() -> None:
    built = build(text="plain body\n", html="<p>html body</p>\n")
    msg = parse(built)
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert content(parts[0]) == "plain body\n"
    assert content(parts[1]) == "<p>html body</p>\n"
    assert msg["MIME-Version"] == "1.0"


def test_single_parts() -> None:
    msg = parse(build(text=None, html="<b>x</b>"))
    assert msg.get_content_type() == "text/html"
    assert content(msg) == "<b>x</b>\n"
    msg = parse(build(text="just text"))
    assert msg.get_content_type() == "text/plain"


def test_needs_a_body_and_a_recipient() -> None:
    with pytest.raises(InputError):
        build(text=None, html=None)
    with pytest.raises(InputError):
        build(to=())


def test_cc_only_is_fine_and_envelope_dedupes() -> None:
    built = build(to=(), cc=(Mailbox("a@example.org"), Mailbox("a@example.org")))
    assert built.envelope_to == ("a@example.org",)
    assert "To" not in parse(built)


def test_headers_and_envelope() -> None:
    when = datetime(2024, 6, 4, 9, 5, 7, tzinfo=timezone(timedelta(hours=3)))
    built = build(
        cc=(Mailbox("copy@example.net"),),
        reply_to=(Mailbox("help@example.com", "Support"),),
        date=when,
        headers={"X-Mailcard-Id": "m-42", "List-Unsubscribe": "<https://example.com/u/1>"},
    )
    msg = parse(built)
    assert msg["Date"] == "Tue, 04 Jun 2024 09:05:07 +0300"
    assert email.utils.parsedate_to_datetime(msg["Date"]) == when
    assert msg["From"].addresses[0].display_name == "Магазин Ромашка"
    assert msg["Reply-To"] == "Support <help@example.com>"
    assert msg["X-Mailcard-Id"] == "m-42"
    assert msg["List-Unsubscribe"] == "<https://example.com/u/1>"
    assert built.envelope_from == "shop@example.com"
    assert built.envelope_to == ("ivan@example.org", "copy@example.net")
    assert built.smtputf8 is False
    assert msg["Message-ID"] == built.message_id


def test_generated_message_id_uses_ascii_sender_domain() -> None:
    built = build(sender=Mailbox("info@магазин.рф"))
    local, _, domain = built.message_id.strip("<>").partition("@")
    assert len(local) == 32 and int(local, 16) >= 0
    assert domain == "xn--80aairftm.xn--p1ai"
    assert build().message_id != build().message_id


def test_given_message_id_is_checked_and_bracketed() -> None:
    assert build(message_id="abc.1@example.com").message_id == "<abc.1@example.com>"
    assert build(message_id="<abc@example.com>").message_id == "<abc@example.com>"
    with pytest.raises(HeaderInjectionError):
        build(message_id="<a@b>\r\nBcc: x@y")
    with pytest.raises(InputError):
        build(message_id="no at sign")


def test_dates() -> None:
    assert format_date(datetime(2024, 1, 2, 3, 4, 5)) == "Tue, 02 Jan 2024 03:04:05 +0000"
    west = timezone(-timedelta(hours=5, minutes=30))
    assert format_date(datetime(2024, 1, 2, 3, 4, 5, tzinfo=west)) == "Tue, 02 Jan 2024 03:04:05 -0530"
    msg = parse(build())
    age = datetime.now(UTC) - email.utils.parsedate_to_datetime(msg["Date"])
    assert abs(age.total_seconds()) < 60


def test_idn_domain_goes_punycode_everywhere() -> None:
    built = build(sender=Mailbox("shop@магазин.рф", "Магазин"), to=(Mailbox("user@bücher.example"),))
    assert built.smtputf8 is False
    assert built.envelope_from == "shop@xn--80aairftm.xn--p1ai"
    assert built.envelope_to == ("user@xn--bcher-kva.example",)
    msg = parse(built)
    assert msg["From"].addresses[0].addr_spec == "shop@xn--80aairftm.xn--p1ai"
    assert msg["To"].addresses[0].addr_spec == "user@xn--bcher-kva.example"


def test_utf8_local_part_means_smtputf8_and_raw_headers() -> None:
    built = build(to=(Mailbox("иван@почта.рф", "Иван"),), subject="Ваш заказ готов")
    assert built.smtputf8 is True
    assert built.envelope_to == ("иван@почта.рф",)
    assert "To: Иван <иван@почта.рф>\r\n".encode() in built.data
    assert "Subject: Ваш заказ готов\r\n".encode() in built.data
    msg = parse(built)
    assert msg["To"].addresses[0].addr_spec == "иван@почта.рф"
    assert msg["Subject"] == "Ваш заказ готов"


def test_bad_idn_is_an_address_error() -> None:
    with pytest.raises(AddressError):
        build(to=(Mailbox("a@" + "я" * 70 + ".рф"),))
    with pytest.raises(AddressError):
        build(to=(Mailbox("a@\u2028.example"),))
    with pytest.raises(AddressError):
        build(to=(Mailbox("no-at-sign"),))


@pytest.mark.parametrize("bad", ["a\r\nBcc: x@y", "a\nb", "a\rb", "a\0b"])
def test_header_injection_is_refused(bad: str) -> None:
    with pytest.raises(HeaderInjectionError):
        build(subject=bad)
    with pytest.raises(HeaderInjectionError):
        build(to=(Mailbox("x@example.org", bad),))
    with pytest.raises(HeaderInjectionError):
        build(headers={"X-Tag": bad})
    with pytest.raises(HeaderInjectionError):
        build(to=(Mailbox(f"x{bad}@example.org"),))


@pytest.mark.parametrize(
    "name", ["Subject", "content-type", "Content-Transfer-Encoding", "BCC", "Message-Id"]
)
def test_reserved_extra_headers_are_refused(name: str) -> None:
    with pytest.raises(InputError):
        build(headers={name: "x"})


@pytest.mark.parametrize("name", ["X Bad", "X:Bad", "", "Х-кириллица"])
def test_invalid_extra_header_names_are_refused(name: str) -> None:
    with pytest.raises(InputError):
        build(headers={name: "x"})


def test_long_list_unsubscribe_folds_at_its_own_spaces() -> None:
    value = (
        "<https://example.com/unsubscribe/" + "a" * 60 + ">, <mailto:unsubscribe@example.com?subject=stop>"
    )
    built = build(headers={"List-Unsubscribe": value, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
    assert parse(built)["List-Unsubscribe"] == value
    with pytest.raises(InputError):
        build(headers={"X-Long": "a" * 1200})


def test_non_ascii_extra_header_is_encoded() -> None:
    built = build(headers={"X-Campaign": "Весенняя распродажа"})
    assert parse(built)["X-Campaign"] == "Весенняя распродажа"


def test_transfer_encoding_choice() -> None:
    def cte(text: str) -> str:
        return str(parse(build(text=text))["Content-Transfer-Encoding"])

    assert cte("short ascii lines\nonly\n") == "7bit"
    assert cte("x" * 79) == "quoted-printable"  # too long for 7bit
    assert cte("trailing space \nnext\n") == "quoted-printable"
    assert cte("From the start\n") == "quoted-printable"
    assert cte("Café crème, s'il vous plaît. Merci beaucoup pour votre commande.\n") == "quoted-printable"
    assert cte("您好，您的订单已发货。感谢您的惠顾！\n" * 5) == "base64"
    assert cte("Здравствуйте! Ваш заказ отправлен.\n" * 5) == "base64"


def test_quoted_printable_only_when_a_tenth_smaller_than_base64() -> None:
    def cte(html: str) -> str:
        return str(parse(build(text=None, html=html))["Content-Transfer-Encoding"])

    # Markup with a Russian word in each row: quoted-printable would be 7% smaller, not a tenth.
    row = '<tr><td class="item-name" style="padding:4px 8px">{}</td><td align="right">199,00</td></tr>\n'
    russian_table = "<table>\n" + row.format("Товар") * 30 + "</table>\n"
    assert cte(russian_table) == "base64"
    # Markup with Latin words: quoted-printable, 13% smaller, and readable.
    latin_table = "<table>\n" + row.format("Crème brûlée") * 30 + "</table>\n"
    assert cte(latin_table) == "quoted-printable"


def test_from_and_dot_lines_survive() -> None:
    text = "From here\n.\n..\nFrom: x\n" + "plain ascii line\n" * 3  # mostly ASCII: quoted-printable
    built = build(text=text + "é")
    assert parse(built)["Content-Transfer-Encoding"] == "quoted-printable"
    assert b"\r\nFrom " not in built.data.partition(b"\r\n\r\n")[2]
    assert content(parse(built)) == text + "é\n"


def test_line_endings_are_normalised() -> None:
    built = build(text="a\rb\nc\r\nd", html="<p>\r</p>")
    parts = list(parse(built).iter_parts())
    assert content(parts[0]) == "a\nb\nc\nd"
    assert content(parts[1]) == "<p>\n</p>"


def test_lone_surrogates_are_input_errors() -> None:
    with pytest.raises(InputError):
        build(text="bad \udc80")
    with pytest.raises(InputError):
        build(subject="bad \ud800 subject")


@pytest.mark.parametrize(
    "changes",
    [
        {"subject": "Заказ \ud800"},
        {"headers": {"X-Tag": "a\udc00"}},
        {"sender": Mailbox("shop@example.com", "Магазин \ud800")},
    ],
)
def test_lone_surrogates_are_input_errors_in_smtputf8_messages_too(changes: dict[str, object]) -> None:
    # A non-ASCII local part makes the message SMTPUTF8, where headers may be raw UTF-8.
    with pytest.raises(InputError, match="unpaired surrogate"):
        build(to=(Mailbox("иван@пример.рф", "Иван"),), **changes)


def test_long_subject_folds_and_keeps_words_whole() -> None:
    subject = "Ваш заказ №123 готов! 👨‍👩‍👧‍👦🇷🇺🇨🇳 " * 6 + "您好" * 40
    built = build(subject=subject)
    assert parse(built)["Subject"] == subject
    head = built.data.partition(b"\r\n\r\n")[0]
    for line in head.split(b"\r\n"):
        assert len(line) <= 76


def test_ascii_subject_stays_readable() -> None:
    subject = "Your order #123 has shipped and will arrive   soon, " * 4 + "thanks"
    built = build(subject=subject)
    assert b"\r\nSubject: Your order #123 has shipped" in built.data
    assert parse(built)["Subject"] == subject


def test_ascii_display_names_are_quoted_when_needed() -> None:
    boxes = (
        Mailbox("a@example.org", "Plain Name"),
        Mailbox("b@example.org", 'J. "Jay" Doe, Jr.'),
        Mailbox("c@example.org", "=?utf-8?q?not_an_encoded_word?="),
        Mailbox("d@example.org"),
    )
    msg = parse(build(to=boxes))
    got = mailboxes(msg, "To")
    assert got == [(b.display_name, b.address) for b in boxes]
