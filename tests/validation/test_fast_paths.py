"""The shortcuts taken for speed find the same things as the full checks would."""

from __future__ import annotations

from mailcard.validation import ContentToCheck, check_content
from mailcard.validation.css import css_comments, css_problems_and_urls, css_problems_urls_and_comments

PLAIN_STYLE = '<td style="padding:0;color:#333;font:14px/1.4 Arial">x</td>'


def codes(html: str) -> list[str]:
    return [f.code for f in check_content(ContentToCheck(html=html, text="x")).findings]


def test_one_suspicious_inline_style_among_many_plain_ones_is_judged() -> None:
    rows = PLAIN_STYLE * 50
    assert "unsafe_css" in codes(f'<table><tr>{rows}<td style="w:ex/**/pression(1)">x</td></tr></table>')
    assert "unsafe_css" in codes(f"<table><tr>{rows}<td style='x:\\65 xpression(1)'>x</td></tr></table>")
    assert "unsafe_css" in codes(f'<table><tr>{rows}<td style="ｅｘｐｒｅｓｓｉｏｎ(1)">x</td></tr></table>')


def test_url_in_one_inline_style_among_many_is_collected() -> None:
    rows = PLAIN_STYLE * 50
    html = f'<table><tr>{rows}<td style="background:url(https://bit.ly/x)">x</td>{rows}</tr></table>'
    assert "shortened_link" in codes(html)


def test_style_block_split_matches_separate_passes() -> None:
    for css in (
        "a/*x*/b{background:url(/*c*/https://bit.ly/x)}",
        "/* unterminated url(x)",
        "@import 'data:text/css,x' /*a*/",
        "\\2f*x*/ p{w:expr/**/ession(1)}",
        "/* see https://goo.gl/x */ p{color:red}",
    ):
        problems, urls, comments = css_problems_urls_and_comments(css)
        assert (problems, urls) == css_problems_and_urls(css)
        assert comments == css_comments(css)


def test_conditional_comment_without_endif_and_with_spaced_endif() -> None:
    assert "unsafe_script" in codes("<!--[if mso]><script>alert(1)</script>-->")
    assert "unsafe_script" in codes("<!--[if IE]><script>alert(1)</script><! [ENDIF] -->")


def test_repeated_conditional_comments_report_once_and_still_block() -> None:
    part = "<!--[if mso]><img src=x onerror=alert(1)><![endif]-->"
    findings = codes(f"<p>a</p>{part}<p>b</p>{part}")
    assert findings.count("unsafe_event_handler") == 1


def test_http_links_and_script_urls_with_http_like_text() -> None:
    assert "unsafe_url" in codes('<a href="javascript:alert(1)//https://x">x</a>')
    assert "unsafe_url" not in codes('<a href="https://example.com/javascript:x">x</a>')
    assert "shortened_link" in codes('<a href="https://bit.ly/abc">x</a>')
    assert "relative_link" not in codes('<a href="http://example.com/a">x</a>')


def test_text_links_found_across_lines_and_backslashes() -> None:
    text = "line one\nno slash here\nsee bit.ly/abc now\n\nand https:\\\\tinyurl.com\\x"
    found = [f.excerpt for f in check_content(ContentToCheck(text=text)).findings]
    assert "bit.ly/abc" in found
    assert any(e and "tinyurl.com" in e for e in found)


def test_plain_address_fast_path_agrees_with_email_validator() -> None:
    # Every address the fast path answers must get exactly email-validator's normalized form, and
    # every address it declines goes to email-validator anyway; edge pieces are mixed at random.
    import random

    from email_validator import EmailNotValidError, validate_email

    from mailcard.validation.addresses import _plain_address

    locals_ = [
        "a",
        "Anna.B",
        "x+tag",
        "_u",
        "-dash",
        "a..b",
        ".a",
        "a.",
        "1",
        "o'neil",
        "é",
        "a" * 64,
        "a" * 65,
    ]
    labels = ["example", "Ex-Ample", "xn--80ak6aa92e", "ab--cd", "-x", "x-", "a", "1", "b" * 63, "c" * 64]
    tlds = ["com", "COM", "c", "123", "test", "local", "onion", "invalid", "localhost", "arpa", "рф", "co"]
    rng = random.Random(7)
    answered = 0
    for _ in range(3000):
        domain = ".".join(rng.choice(labels) for _ in range(rng.randint(0, 3)) if True)
        address = f"{rng.choice(locals_)}@{domain + '.' if domain else ''}{rng.choice(tlds)}"
        fast = _plain_address(address)
        try:
            expected: str | None = validate_email(
                address, check_deliverability=False, test_environment=True
            ).normalized
        except EmailNotValidError:
            expected = None
        if fast is not None:
            answered += 1
            assert fast == expected, address
    assert answered > 100
    for everyday in ("anna0@example.com", "John.Smith+news@Mail.Example.CO.UK", "li_na-2@shop.example.test"):
        assert _plain_address(everyday) is not None, everyday
