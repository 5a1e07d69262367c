"""The validator never crashes, whatever it is given, and the report model behaves."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mailcard.validation import ContentToCheck, Finding, Location, Report, check_content

html_pieces = st.sampled_from(
    [
        "<",
        ">",
        "</",
        "<!--",
        "-->",
        "<![endif]-->",
        "<!--[if mso]>",
        "<svg>",
        "<math>",
        "<mtext>",
        "<mglyph>",
        "<style>",
        "</style>",
        "<script>",
        "<noscript>",
        "<form>",
        "</form>",
        "<table>",
        "<a href=",
        '"',
        "'",
        "javascript:",
        "data:text/html,",
        "&#x6A;",
        "&{",
        "url(",
        "expression(",
        "\\",
        "/*",
        "*/",
        "bit.ly/x",
        "https://",
        "ｂｉｔ．ｌｙ/",
        "\x00",
        "\r\n",
        "\u2028",
        "xn--",
        "%2E",
        "@",
        "<iframe srcdoc=",
        "<?",
        "?>",
    ]
)
markup = st.lists(st.one_of(html_pieces, st.text(max_size=8)), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(markup, st.text(max_size=50), st.text(max_size=50), st.text(max_size=200))
def test_never_crashes(html: str, subject: str, preheader: str, text: str) -> None:
    report = check_content(ContentToCheck(subject=subject, preheader=preheader, html=html, text=text))
    assert report.verdict in ("ok", "warn", "block")
    for finding in report.findings:
        data = finding.to_dict()
        assert data["severity"] in ("error", "warning", "info")
        assert data["message"]


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=500))
def test_never_crashes_on_arbitrary_text(value: str) -> None:
    check_content(ContentToCheck(html=value, text=value, subject=value, preheader=value))


def test_processing_instructions_anywhere_are_inert() -> None:
    # lexbor keeps "<?...>" as a node without a tag name (a browser, as a bogus comment): the walk
    # and the serialise-and-parse-again pass (run for <svg>) used to crash on it.
    for html in (
        "<p>Заказ</p><?php echo $order; ?><p>готов</p>",
        "<svg><?xml-stylesheet href='x'?></svg><p>a</p>",
        "<table><tr><td><?x?></td></tr></table>",
    ):
        assert check_content(ContentToCheck(html=html, text="x")).verdict == "ok", html
    blocked = check_content(ContentToCheck(html="<?php ?><svg><script>alert(1)</script></svg>", text="x"))
    assert [f.code for f in blocked.blocking] == ["unsafe_script"]


def test_deeply_nested_markup_does_not_overflow() -> None:
    html = "<svg>" + "<g>" * 5000 + "<noscript>" + "</g>" * 5000
    assert check_content(ContentToCheck(html=html, text="x")).verdict in ("ok", "warn", "block")


def test_report_verdicts_and_to_dict() -> None:
    error = Finding("unsafe_script", "error", "Remove it.", None, Location("html", 1, 2), "<script>")
    warning = Finding("shortened_link", "warning", "Use the full URL.", "hint", Location("text"), "bit.ly/x")
    info = Finding("missing_text_part", "info", "No text part.")
    assert Report([]).verdict == "ok"
    assert Report([info]).verdict == "ok"
    assert Report([info, warning]).verdict == "warn"
    assert Report([warning, error]).verdict == "block"
    assert Report([warning, error]).blocking == [error]
    assert error.to_dict() == {
        "code": "unsafe_script",
        "severity": "error",
        "message": "Remove it.",
        "hint": None,
        "location": {"part": "html", "line": 1, "column": 2},
        "excerpt": "<script>",
    }


def test_lint_findings() -> None:
    big = "<p>" + "x" * (101 * 1024) + "</p>"
    report = check_content(ContentToCheck(subject=" ", html=big + '<a href="/account">Account</a>'))
    assert {f.code: f.severity for f in report.findings} == {
        "empty_subject": "warning",
        "relative_link": "warning",
        "html_too_large": "warning",
        "missing_text_part": "info",
    }
    assert report.verdict == "warn"


def test_placeholders_are_not_relative_links() -> None:
    html = '<a href="{{action_url}}">a</a><a href="*|UNSUB|*">b</a><a href="#top">c</a>'
    assert check_content(ContentToCheck(html=html, text="x")).findings == ()
