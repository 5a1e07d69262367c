"""Property tests: whatever Unicode goes in, the stdlib parser reads the same thing back out.

Subjects, display names and bodies are drawn from arbitrary Unicode plus the troublemakers we care
about: Cyrillic, CJK, emoji (incl. ZWJ sequences, skin tones, flags), long lines without spaces,
lines starting with '.' or 'From ', trailing whitespace, CR/LF mixes, encoded-word look-alikes.
"""

from __future__ import annotations

from email.message import MIMEPart

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.mime.helpers import assert_wire_rules, content, mailboxes, newlines, parse

from mailcard.domain.mailbox import Mailbox
from mailcard.mime import MessageDraft, build_message
from mailcard.mime.headers import normalize_display_name

_PIECES = [
    "Привет, мир",
    "Ваш заказ №123",
    "您好，欢迎光临",
    "订单",
    "🎉",
    "👍🏽",
    "👨‍👩‍👧‍👦",
    "🇷🇺🇨🇳",
    "e\u0301",
    " ",
    "  ",
    "\t",
    ".",
    "From ",
    "=?utf-8?q?x?=",
    "=",
    '"',
    "\\",
    "x" * 90,
    "д" * 50,
    "_?=",
    "<>,;:@",
]
_NEWLINES = ["\n", "\r\n", "\r", "\n.\n", "\nFrom x\n", " \n", "\t\r\n", "\n\n"]

# Arbitrary Unicode minus lone surrogates (not encodable) and the header-breaking CR/LF/NUL.
_ANY_CHAR = st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n\0")
_LINE = st.lists(st.one_of(st.text(_ANY_CHAR, max_size=20), st.sampled_from(_PIECES)), max_size=8).map(
    "".join
)
_BODY = st.lists(st.one_of(_LINE, st.sampled_from(_NEWLINES)), max_size=30).map("".join)

_ASCII_ADDRESSES = ["ivan@example.org", "li.wei@example.cn", "a+tag@sub.example.com"]
_IDN_ADDRESSES = ["user@bücher.example", "shop@магазин.рф", "kefu@例子.中国"]
_UTF8_ADDRESSES = ["иван@почта.рф", "用户@例子.中国", "josé@example.com"]
_ADDRESS = st.sampled_from(_ASCII_ADDRESSES + _IDN_ADDRESSES + _UTF8_ADDRESSES)
_MAILBOX = st.builds(Mailbox, _ADDRESS, _LINE)


def _spaces(name: str) -> str:
    # The stdlib's phrase parser turns any Unicode white space (NBSP, U+3000, ...) in a display
    # name into one ASCII space and trims it; real mail clients show them as sent.
    return " ".join(name.split())


def _expected_address(address: str) -> str:
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        return address
    return f"{local}@{domain.encode('idna').decode('ascii')}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sender=_MAILBOX,
    to=st.lists(_MAILBOX, min_size=1, max_size=3),
    cc=st.lists(_MAILBOX, max_size=2),
    subject=_LINE,
    text=st.one_of(st.none(), _BODY),
    html=st.one_of(st.none(), _BODY),
    extra=_LINE,
)
def test_roundtrip_through_stdlib_parser(
    sender: Mailbox,
    to: list[Mailbox],
    cc: list[Mailbox],
    subject: str,
    text: str | None,
    html: str | None,
    extra: str,
) -> None:
    if text is None and html is None:
        text = ""
    draft = MessageDraft(
        sender=sender, to=to, cc=cc, subject=subject, text=text, html=html, headers={"X-Note": extra}
    )
    built = build_message(draft)
    assert_wire_rules(built)
    msg = parse(built)

    assert not msg.defects
    assert str(msg["Subject"]) == subject
    assert str(msg["X-Note"]) == extra.strip(" \t")
    for field, boxes in (("From", [sender]), ("To", to), ("Cc", cc)):
        if not boxes:
            assert field not in msg
            continue
        got = mailboxes(msg, field)
        want = [(normalize_display_name(b.display_name), _expected_address(b.address)) for b in boxes]
        assert [(_spaces(n), a) for n, a in got] == [(_spaces(n), a) for n, a in want]
    assert built.smtputf8 == any(not b.local_part.isascii() for b in [sender, *to, *cc])
    assert built.envelope_from == _expected_address(sender.address)
    assert built.envelope_to == tuple(dict.fromkeys(_expected_address(b.address) for b in to + cc))

    parts: list[MIMEPart] = list(msg.iter_parts()) if msg.is_multipart() else [msg]
    expected = [
        (kind, body) for kind, body in (("text/plain", text), ("text/html", html)) if body is not None
    ]
    assert [p.get_content_type() for p in parts] == [kind for kind, _ in expected]
    for part, (_, body) in zip(parts, expected, strict=True):
        assert part.get_content_charset() == "utf-8"
        decoded = content(part)
        wanted = newlines(body)
        if not msg.is_multipart() and part["Content-Transfer-Encoding"] != "base64":
            # A single part is followed by the message's final CRLF, which reads back as a newline.
            assert decoded in (wanted, wanted + "\n")
        else:
            assert decoded == wanted


@settings(max_examples=200, deadline=None)
@given(subject=st.text(_ANY_CHAR, max_size=400))
def test_any_subject_roundtrips(subject: str) -> None:
    built = build_message(
        MessageDraft(
            sender=Mailbox("a@example.com"), to=[Mailbox("b@example.com")], subject=subject, text="x"
        )
    )
    assert_wire_rules(built)
    assert str(parse(built)["Subject"]) == subject
