"""``inject_preheader`` / ``preheader_for_text_only`` on hand-written edge cases."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from mailcard.content import html_to_text, inject_preheader, preheader_for_text_only
from mailcard.content.preheader import HIDDEN_STYLE, preheader_block


def _first_hidden_text(html: str) -> str:
    body = LexborHTMLParser(html).body
    assert body is not None
    first = next(n for n in body.iter() if n.is_element_node)
    assert first.attributes.get("style") == HIDDEN_STYLE
    return first.text()


def test_goes_right_after_body_tag_with_tricky_attributes() -> None:
    html = "<html><head></head><body data-x=\"a>b\" class='c'>\n<p>Hello</p></body></html>"
    out = inject_preheader(html, "Preview")
    assert out.startswith("<html><head></head><body data-x=\"a>b\" class='c'><div style=")
    assert _first_hidden_text(out) == "Preview"


def test_body_inside_conditional_comment_or_style_is_not_used() -> None:
    html = (
        "<!DOCTYPE html><html><head><style>/* <body> */</style>"
        '<!--[if mso]><body class="mso"><![endif]--></head>'
        '<!--[if !mso]><!--><body class="real"><!--<![endif]--><p>x</p></body></html>'
    )
    out = inject_preheader(html, "P")
    assert '<body class="real"><div style=' in out
    assert out.replace(preheader_block("P"), "") == html


def test_fragment_and_headless_documents() -> None:
    assert inject_preheader("<p>Hi</p>", "P").startswith(preheader_block("P") + "<p>Hi</p>")
    doc = "<!DOCTYPE html><html><head><title>t</title></head><p>x</p></html>"
    out = inject_preheader(doc, "P")
    assert out == doc.replace("</head>", "</head>" + preheader_block("P"))
    bare = "<!doctype html>\n<p>x</p>"
    assert inject_preheader(bare, "P") == "<!doctype html>" + preheader_block("P") + "\n<p>x</p>"


def test_preheader_is_escaped_and_single_line() -> None:
    out = inject_preheader("<body></body>", '<script>alert("x")</script> &\nmore')
    assert "<script>" not in out
    assert _first_hidden_text(out) == '<script>alert("x")</script> & more'


def test_empty_preheader_changes_nothing() -> None:
    assert inject_preheader("<p>x</p>", "  ") == "<p>x</p>"


def test_filler_is_long_and_invisible_in_text_part() -> None:
    block = preheader_block("P")
    assert block.count("&nbsp;") >= 20 and len(block) > 500
    assert html_to_text("<body>" + block + "<p>Visible</p></body>") == "Visible\n"


def test_text_only_gets_an_html_alternative() -> None:
    text = "Hello <Ivan> & co\n\n  indented line\nhttps://example.com/x"
    html = preheader_for_text_only(text, "Your order shipped")
    assert _first_hidden_text(html) == "Your order shipped"
    pre = LexborHTMLParser(html).css_first("pre")
    assert pre is not None and pre.text() == text
    assert "white-space:pre-wrap" in (pre.attributes.get("style") or "")
    assert html_to_text(html) == text + "\n"


_SNIPPETS = [
    "<!DOCTYPE html>",
    "<html lang='ru'>",
    "<head>",
    "</head>",
    "<meta charset='utf-8'>",
    "<title><body>not a tag</title>",
    "<style>body > p { color: red } /* <body> */</style>",
    "<!--[if mso]><body class='mso'><table><tr><td><![endif]-->",
    "<!--[if !mso]><!-->",
    "<!--<![endif]-->",
    "<!-- <body> in a comment -->",
    '<body style="a>b">',
    "<p>Привет</p>",
    "<table><tr><td>cell</td></tr></table>",
    "text",
    "</body></html>",
]


@given(st.lists(st.sampled_from(_SNIPPETS), max_size=12))
def test_preheader_always_lands_in_the_body_as_an_element(pieces: list[str]) -> None:
    html = "".join(pieces)
    out = inject_preheader(html, "PREVIEW")
    assert out.replace(preheader_block("PREVIEW"), "", 1) == html
    tree = LexborHTMLParser(out)
    assert tree.body is not None
    found = [
        n for n in tree.body.traverse() if n.is_element_node and n.attributes.get("style") == HIDDEN_STYLE
    ]
    assert found and found[0].text() == "PREVIEW"
