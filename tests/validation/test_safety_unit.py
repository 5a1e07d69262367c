"""The BLOCK rules on hand-written cases: what blocks, what does not, and what the user is told."""

from __future__ import annotations

import pytest

from mailcard.validation import ContentToCheck, Finding, check_content


def blocking(html: str) -> list[Finding]:
    return check_content(ContentToCheck(html=html, text="x")).blocking


def codes(html: str) -> set[str]:
    return {f.code for f in blocking(html)}


@pytest.mark.parametrize(
    ("html", "code"),
    [
        ("<p>x</p><script>alert(1)</script>", "unsafe_script"),
        ("<script>alert(1)", "unsafe_script"),  # unterminated: a re-serialiser closes it
        ('<script type="text/vbscript">MsgBox 1</script>', "unsafe_script"),
        ('<img src=x onerror="alert(1)">', "unsafe_event_handler"),
        ("<svg/onload=alert(1)>", "unsafe_event_handler"),
        ('<a href=" JaVa&#x09;ScRiPt:alert(1)">x</a>', "unsafe_url"),
        ('<a href="&#x01;javascript:alert(1)">x</a>', "unsafe_url"),
        ('<img src="vbscript:msgbox(1)">', "unsafe_url"),
        ('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', "unsafe_url"),
        ('<embed src="data:image/svg+xml,<svg onload=alert(1)>">', "unsafe_object"),
        ('<iframe src="https://example.com"></iframe>', "unsafe_frame"),
        ("<frameset><frame src=x></frameset>", "unsafe_frame"),
        ('<object classid="clsid:333C7BC4-460F-11D0-BC04-0080C7055A83"></object>', "unsafe_object"),
        ('<applet code="X.class"></applet>', "unsafe_applet"),
        ('<div style="width: expression(alert(1))">x</div>', "unsafe_css"),
        ('<div style="w: ex/**/pression(alert(1))">x</div>', "unsafe_css"),
        ('<div style="background:url(\\6a avascript:alert(1))">x</div>', "unsafe_css"),
        ("<style>body{behavior:url(x.htc)}</style>", "unsafe_css"),
        ("<style>body{-moz-binding:url(x.xml#x)}</style>", "unsafe_css"),
        ("<style>@import 'javascript:alert(1)';</style>", "unsafe_css"),
        ('<meta http-equiv="refresh" content="0;url=javascript:alert(1)">', "unsafe_meta_refresh"),
        ('<base href="javascript:alert(1)//">', "unsafe_base"),
        ('<form action="javascript:alert(1)"><button>x</button></form>', "unsafe_form_action"),
        ('<button formaction="javascript:alert(1)">x</button>', "unsafe_form_action"),
        ('<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>', "unsafe_url"),
        ('<math href="javascript:alert(1)">x</math>', "unsafe_url"),
        ('<svg><animate attributeName="href" values="javascript:alert(1)"/></svg>', "unsafe_url"),
        ('<iframe srcdoc="&lt;img src=x onerror=alert(1)&gt;"></iframe>', "unsafe_event_handler"),
        ('<meta charset="utf-7">+ADw-script+AD4-alert(1)+ADw-/script+AD4-', "unsafe_charset"),
        ('<br size="&{alert(1)}">', "unsafe_script_entity"),
        ('<span datasrc="#x" datafld="a" dataformatas="html"></span>', "unsafe_data_binding"),
        ('<link rel="import" href="x.html">', "unsafe_import"),
        ("<!--[if gte mso 9]><script>alert(1)</script><![endif]-->", "unsafe_script"),
        ('<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>', "unsafe_event_handler"),
        ("<form><math><mtext></form><form><mglyph><style><img src=x onerror=alert(1)>", "unsafe_mutation"),
    ],
)
def test_blocks(html: str, code: str) -> None:
    assert code in codes(html)


@pytest.mark.parametrize(
    "html",
    [
        '<script type="application/ld+json">{"@context": "https://schema.org"}</script>',
        '<img src="data:image/svg+xml,%3Csvg onload=alert(1)%3E">',  # SVG as an image never runs script
        '<img src="data:image/png;base64,iVBORw0KGgo=">',
        '<a href="{{action_url}}">Reset</a> <a href="*|UNSUB|*">Unsubscribe</a>',
        "<div style=\"scroll-behavior: smooth; font-family: 'Segoe Script'\">x</div>",
        '<!--[if mso]><v:roundrect href="https://example.com"><w:anchorlock/></v:roundrect><![endif]-->',
        "<!--[if gte mso 9]><xml><o:OfficeDocumentSettings><o:AllowPNG/></o:OfficeDocumentSettings></xml>"
        "<![endif]-->",
        '<p title="javascript: is a scheme">text about javascript:alert(1)</p>',
        "<p>We use &lt;script&gt; tags on our site, not in e-mail.</p>",
        '<a href="mailto:info@example.com?subject=Hi">Mail</a>',
        "<svg width=10 height=10><rect width=10 height=10 fill=red /></svg>",
    ],
)
def test_does_not_block(html: str) -> None:
    assert blocking(html) == []


def test_message_names_the_element_and_what_to_do() -> None:
    (finding,) = blocking('<p>Hi</p>\n<iframe src="https://example.com/video"></iframe>')
    assert finding.code == "unsafe_frame"
    assert finding.message.startswith("Remove the <iframe>: e-mail clients block frames")
    assert "block your mailings" in finding.message
    assert finding.location is not None
    assert (finding.location.part, finding.location.line, finding.location.column) == ("html", 2, 1)


def test_event_handler_message_names_attribute_and_element() -> None:
    (finding,) = blocking('<img src="x.png"\n     onerror="alert(1)">')
    assert "onerror" in finding.message and "<img>" in finding.message
    assert finding.location is not None and finding.location.line == 2
    assert finding.excerpt is not None and "onerror" in finding.excerpt


def test_conditional_comment_findings_say_where_they_are() -> None:
    (finding,) = blocking("<!--[if IE]><iframe src=x></iframe><![endif]-->")
    assert "conditional comment" in finding.message


def test_mutation_finding_explains_the_round_trip() -> None:
    # Inert as parsed (the <img> is text inside <style>), live after serialise -> parse.
    findings = blocking("<form><math><mtext></form><form><mglyph><style><img src=x onerror=alert(1)>")
    mutation = [f for f in findings if f.code == "unsafe_mutation"]
    assert mutation and "re-serialised" in mutation[0].message
