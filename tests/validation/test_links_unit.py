"""Host normalisation and the shortened-link rule, one trick at a time."""

from __future__ import annotations

import pytest

from mailcard.validation import ContentToCheck, LinkPolicy, check_content
from mailcard.validation.shorteners import builtin_shorteners
from mailcard.validation.urls import extract_host, normalise_host


def short_links(content: ContentToCheck, policy: LinkPolicy | None = None) -> list[str]:
    return [f.excerpt or "" for f in check_content(content, policy).findings if f.code == "shortened_link"]


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://BIT.LY/x", "bit.ly"),
        ("https://bit.ly./x", "bit.ly"),
        ("https://user:pw@bit.ly:8443/x", "bit.ly"),
        ("https://bit.ly@example.com/x", "example.com"),
        ("//bit.ly/x", "bit.ly"),
        ("https:\\\\bit.ly\\x", "bit.ly"),
        ("https:/bit.ly/x", "bit.ly"),
        (" \t\nhttps://b\tit.ly/x", "bit.ly"),
        ("https://bit%2Ely/x", "bit.ly"),
        ("https://bit\u3002ly/x", "bit.ly"),
        ("https://ｂｉｔ．ｌｙ/x", "bit.ly"),
        ("https://пример.рф/", "xn--e1afmkfd.xn--p1ai"),
        ("bit.ly/x", "bit.ly"),
    ],
)
def test_host_normalisation(url: str, host: str) -> None:
    raw = extract_host(url)
    assert raw is not None
    assert normalise_host(raw) == host


@pytest.mark.parametrize("url", ["mailto:promo@bit.ly", "tel:+7900", "#top", "/path", "bit.ly", "logo.png"])
def test_values_without_a_host(url: str) -> None:
    assert extract_host(url) is None


def test_entity_encoded_href_is_decoded_before_matching() -> None:
    html = '<a href="https&#58;//&#98;it.ly/abc">x</a>'
    assert short_links(ContentToCheck(html=html, text="x")) == ["https://bit.ly/abc"]


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<img srcset="https://cdn.example.com/a.png 1x, https://bit.ly/b 2x">', ["https://bit.ly/b"]),
        ("<div style=\"background:url('https://bit.ly/bg')\">x</div>", ["https://bit.ly/bg"]),
        ("<style>td{background:url(https://bit.ly/css)}</style>", ["https://bit.ly/css"]),
        ('<form action="https://bit.ly/f"></form>', ["https://bit.ly/f"]),
        ('<video poster="https://bit.ly/p"></video>', ["https://bit.ly/p"]),
        ('<table background="https://bit.ly/t"></table>', ["https://bit.ly/t"]),
        ('<svg><a xlink:href="https://bit.ly/s">x</a></svg>', ["https://bit.ly/s"]),
    ],
)
def test_every_url_bearing_place_is_checked(html: str, expected: list[str]) -> None:
    assert short_links(ContentToCheck(html=html, text="x")) == expected


def test_not_links() -> None:
    text = "Write to promo@bit.ly. We use bit.ly on social media. See example.com/?ref=bit.ly"
    assert short_links(ContentToCheck(text=text)) == []


def test_cjk_text_without_spaces() -> None:
    assert short_links(ContentToCheck(text="详情请访问t.cn/A6AbCdEf谢谢")) == ["t.cn/A6AbCdEf谢谢"]


def test_platform_deep_links_are_flagged_by_default_and_can_be_allowed() -> None:
    content = ContentToCheck(text="Telegram: https://t.me/shop, WhatsApp: https://wa.me/79001234567")
    assert len(short_links(content)) == 2
    assert short_links(content, LinkPolicy(allowed_domains=("t.me", "wa.me"))) == []


def test_policy_adds_shorteners_and_allows_subdomains() -> None:
    policy = LinkPolicy(extra_shorteners=("go.example.com",), allowed_domains=("bit.ly",))
    text = "https://go.example.com/sale https://bit.ly/x https://sub.bit.ly/y"
    assert short_links(ContentToCheck(text=text), policy) == ["https://go.example.com/sale"]


def test_shipped_list_loads_lazily_and_keeps_its_licence_header() -> None:
    from importlib import resources

    text = resources.files("mailcard").joinpath("data/shorteners.txt").read_text(encoding="utf-8")
    assert "CC BY-SA 4.0" in text.split("\n0.gp")[0]
    domains = builtin_shorteners()
    assert len(domains) == 1484
    assert {"bit.ly", "clck.ru", "t.cn", "on.ft.com", "t.me"} <= domains
    assert "bitly.com" not in domains


def test_shortened_link_message_asks_for_full_url() -> None:
    report = check_content(ContentToCheck(subject="Sale: bit.ly/abc"))
    (finding,) = report.findings
    assert finding.severity == "warning"
    assert "full URL" in finding.message
    assert finding.location is not None and finding.location.part == "subject"
    assert (finding.location.line, finding.location.column) == (1, 7)
    assert report.verdict == "warn"
