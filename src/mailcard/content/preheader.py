"""The preheader: hidden preview text placed first in the HTML body.

Inbox previews (Gmail, Outlook, Apple Mail) show the first text of the message, hidden or not. We
put the preheader in a ``display:none`` block at the very top of ``<body>`` (``mso-hide:all`` for
Outlook's Word engine, zero size/opacity for clients that ignore ``display``), followed by a second
hidden block of invisible filler so the visible body text does not run on into the preview.

The HTML is edited as text, never re-serialised: a parser round-trip would rewrite templates and
destroy Outlook conditional comments (``<!--[if mso]>...<![endif]-->``). Comments and raw-text
elements (script, style, title, textarea) are skipped when looking for the insertion point, so a
``<body>`` inside a conditional comment is never chosen.
"""

from __future__ import annotations

import html as html_lib
import re
from typing import Final

__all__ = [
    "HIDDEN_STYLE",
    "inject_preheader",
    "inject_preheader_keeping_tree",
    "injection_keeps_tree",
    "preheader_block",
    "preheader_for_text_only",
    "text_document",
]

HIDDEN_STYLE: Final = (
    "display:none;font-size:1px;color:#ffffff;line-height:1px;max-height:0px;max-width:0px;"
    "opacity:0;overflow:hidden;mso-hide:all;"
)
# Zero-width / blank characters previews count but nobody sees: combining grapheme joiner, ZWNJ,
# NBSP, figure space, BOM. 40 units = 200 characters, enough for the longest previews (~140).
_FILLER: Final = "&#847;&zwnj;&nbsp;&#8199;&#65279;" * 40

# Things that can contain a "<body" we must not take: comments (an unterminated one runs to the
# end, as in browsers), raw-text elements, and the tags that bound an insertion point.
_ATTRS: Final = r"""(?:"[^"]*"|'[^']*'|[^'">])*"""  # tag contents up to '>', quotes respected
# The shared "<" leads the pattern so that the regex engine skips to the next "<" in C; with the "<"
# inside each alternative it tried all five at every character (a tenth of composing a message).
_SCAN: Final = re.compile(
    rf"""
    <(?:
      (?P<comment>!--.*?(?:-->|\Z))
    | (?P<raw>(?P<rawtag>script|style|title|textarea|xmp)\b{_ATTRS}>.*?(?:</(?P=rawtag)\s*>|\Z))
    | (?P<body>body(?=[\s/>]){_ATTRS}>)
    | (?P<headend>/head\s*>)
    | (?P<lead>!doctype{_ATTRS}>|html(?=[\s/>]){_ATTRS}>)
    )
    """,
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)
_SPACES: Final = re.compile(r"\s+")

# A document start that is certainly parsed (HTML5 tree construction) as doctype, comments, <html>,
# <head>, </head> and head elements, ended by the <body> start tag that creates the body element. Deliberately
# narrow: anything else (text, scripts, unusual quoting) simply does not match. HTML white space only
# (not Python's \s); a comment must not contain "--" before its "-->"; an attribute value may be
# quoted only right after "=", as the tokenizer reads quotes.
_HTML_WS = r"[ \t\n\r\f]"
_TAG_REST = rf"""(?=[ \t\n\r\f/>])(?:[^<>"'=]|={_HTML_WS}*"[^"]*"|={_HTML_WS}*'[^']*'|=)*>"""
_CLEAN_BODY_START: Final = re.compile(
    rf"""
    (?:
        {_HTML_WS}
      | <!--(?!-?>)(?:[^-]|-(?!-))*-->
      | <!doctype[^>]*>
      | <(?:html|head){_TAG_REST}
      | </head{_HTML_WS}*>
      | <(?:meta|link|base){_TAG_REST}
      | <title{_TAG_REST}(?:(?!</title)[^\x00])*</title{_HTML_WS}*>
      | <style{_TAG_REST}(?:(?!</style)[^\x00])*</style{_HTML_WS}*>
    )*
    <body{_TAG_REST}
    """,
    re.IGNORECASE | re.VERBOSE,
)


def preheader_block(preheader: str) -> str:
    """The two hidden ``<div>`` blocks: escaped preheader text, then the filler."""
    text = html_lib.escape(_SPACES.sub(" ", preheader).strip())
    return f'<div style="{HIDDEN_STYLE}">{text}</div><div style="{HIDDEN_STYLE}">{_FILLER}</div>'


def _insertion_point(document: str) -> int:
    """Right after ``<body ...>``; else after ``</head>``; else after a leading doctype/``<html>``;
    else 0 (a fragment)."""
    after_head = -1
    after_lead = 0
    for match in _SCAN.finditer(document):
        kind = match.lastgroup
        if kind == "body":
            return match.end()
        if kind == "headend" and after_head < 0:
            after_head = match.end()
        elif kind == "lead" and after_head < 0:
            after_lead = match.end()
    return after_head if after_head >= 0 else after_lead


def injection_keeps_tree(html: str) -> bool:
    """True when :func:`inject_preheader` puts the block right after the ``<body>`` start tag that
    creates the body element: the block's two hidden ``<div>`` are then the body's first children and
    the rest of the document parses exactly as without them (so the text part, which skips hidden
    elements, can be generated from the tree of ``html`` itself). False when unsure."""
    return _keeps_tree(html, _insertion_point(html))


def _keeps_tree(html: str, at: int) -> bool:
    return at > 0 and _CLEAN_BODY_START.fullmatch(html, 0, at) is not None


def inject_preheader(html: str, preheader: str) -> str:
    """``html`` with ``preheader`` as hidden preview text at the top of the body.

    Works on full documents (after ``<body ...>``) and fragments (at the start). The preheader is
    HTML-escaped; an empty preheader returns ``html`` unchanged.
    """
    return inject_preheader_keeping_tree(html, preheader)[0]


def inject_preheader_keeping_tree(html: str, preheader: str) -> tuple[str, bool]:
    """:func:`inject_preheader` and :func:`injection_keeps_tree` with one search for the insertion
    point (the composer needs both for every message). An empty preheader returns ``(html, True)``."""
    if not preheader.strip():
        return html, True
    at = _insertion_point(html)
    return html[:at] + preheader_block(preheader) + html[at:], _keeps_tree(html, at)


def text_document(text: str) -> str:
    """``text`` as a minimal HTML document: escaped, inside ``<pre style="white-space:pre-wrap;
    font-family:inherit">`` (line breaks kept, long lines wrap, normal font)."""
    body = (
        '<pre style="white-space:pre-wrap;font-family:inherit;margin:0">'
        f"{html_lib.escape(text, quote=False)}</pre>"
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>\n'
        f"<body>\n{body}\n</body></html>\n"
    )


def preheader_for_text_only(text: str, preheader: str) -> str:
    """A minimal HTML alternative for a text-only message, carrying the preheader.

    A text/plain message has no hidden text: its preview is simply its first line. So when a
    text-only message has a preheader we *generate an HTML part*: :func:`text_document` of the text,
    with the hidden preheader first. The caller sends ``text`` unchanged as the text/plain part and
    this as the text/html part of multipart/alternative. Without a preheader there is no reason for
    an HTML part; callers should then send text only.
    """
    return inject_preheader(text_document(text), preheader)
