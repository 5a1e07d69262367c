"""``html_to_text`` rules on small documents."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mailcard.content import html_to_text


def test_blocks_headings_and_breaks() -> None:
    html = "<h1>Title</h1><p>One<br>Two</p><div>Three</div><div>Four</div><hr><p>End</p>"
    assert html_to_text(html) == "Title\n\nOne\nTwo\n\nThree\nFour\n\n--------------------\n\nEnd\n"


def test_lists() -> None:
    html = "<ul><li>a</li><li>b<ol><li>x</li><li>y</li></ol></li></ul><ol><li>first</li></ol>"
    assert html_to_text(html) == "- a\n- b\n  1. x\n  2. y\n\n1. first\n"


def test_links() -> None:
    html = (
        '<p><a href="https://shop.example/o/1">Track order</a> '
        '<a href="https://shop.example/">https://shop.example/</a> '
        '<a href="mailto:help@shop.example">help@shop.example</a> '
        '<a href="#top">top</a> <a href="javascript:alert(1)">x</a> '
        '<a href="https://shop.example/img"><img src="i.png" alt="Logo"></a> '
        '<a href="https://shop.example/empty"><img src="i.png"></a></p>'
    )
    assert html_to_text(html).replace("\n", " ").strip() == (
        "Track order (https://shop.example/o/1) https://shop.example/ help@shop.example top x "
        "Logo (https://shop.example/img) https://shop.example/empty"
    )


def test_tables_as_lines() -> None:
    html = "<table><tr><th>Item</th><th>Price</th></tr><tr><td>Tea</td><td>100 ₽</td></tr></table>"
    assert html_to_text(html) == "Item | Price\nTea | 100 ₽\n"


def test_invisible_things_are_skipped() -> None:
    html = (
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<script>var x=1</script><!--[if mso]><p>MSO only</p><![endif]-->"
        '<div style="display: none !important">pre</div><span class="preheader">ph</span>'
        '<div style="max-height:0; overflow:hidden; mso-hide:all;">cerberus</div>'
        "<p hidden>h</p><p>Shown&nbsp;text &amp; more\u200c\ufeff</p></body></html>"
    )
    assert html_to_text(html) == "Shown text & more\n"


def test_whitespace_collapses_except_in_pre() -> None:
    html = "<p>  lots   of\n\n spaces  </p><pre>  keep\n    this  </pre>"
    assert html_to_text(html) == "lots of spaces\n\n  keep\n    this\n"


def test_wraps_at_78_without_breaking_urls() -> None:
    url = "https://shop.example.com/" + "a" * 100
    html = "<p>" + "слово " * 40 + f'<a href="{url}">link</a></p><ul><li>' + "item " * 30 + "</li></ul>"
    text = html_to_text(html)
    assert url in text
    for line in text.splitlines():
        assert len(line) <= 78 or line.strip("()") == url
    assert "\n  item" in text  # list continuation lines are indented under the bullet


def test_images_alt_and_empty_documents() -> None:
    assert html_to_text('<img alt="Company logo"><p>Hi</p>') == "Company logo\n\nHi\n"
    assert html_to_text("") == ""
    assert html_to_text("<html><head><title>x</title></head><body></body></html>") == ""


def test_deep_nesting_does_not_recurse() -> None:
    html = "<table><tr><td>" * 2000 + "deep" + "</td></tr></table>" * 2000
    assert html_to_text(html).strip() == "deep"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_never_crashes_on_arbitrary_input(html: str) -> None:
    text = html_to_text(html)
    assert text == "" or text.endswith("\n")
