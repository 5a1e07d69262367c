"""``preview_document``: a message part as a document a browser can show without running any script.

The content checks block every kind of script we know of, but a preview must stay safe even for one
they miss. So the document starts with a Content-Security-Policy (a ``<meta>`` in the head, before
any of the message: a policy applies to what follows it) that allows no script at all — no
``<script>``, no event handler, no ``javascript:`` URL — and no frames, plugins, forms, ``<base>``
or connections; only images, styles and fonts load, as a mail client shows them. A page showing it
should also put it in ``<iframe sandbox srcdoc="…">`` (see docs/card.md): the sandbox forbids
script too, and keeps the document out of the page's origin.

The message's own doctype, when it has one, stays first, so the browser lays it out in the same
mode (standards, almost-standards or quirks) as a mail client would.
"""

from __future__ import annotations

import re
from typing import Final

from mailcard.content.preheader import text_document

__all__ = ["PREVIEW_POLICY", "preview_document"]

PREVIEW_POLICY: Final = (
    "default-src 'none'; img-src https: http: data: cid:; style-src 'unsafe-inline' https: http:; "
    "font-src https: http: data:; base-uri 'none'; form-action 'none'"
)
_POLICY_META: Final = f'<meta http-equiv="Content-Security-Policy" content="{PREVIEW_POLICY}">'
# A doctype at the start (after white space), as the tokenizer reads it: up to the first ">".
_LEADING_DOCTYPE: Final = re.compile(r"[ \t\n\r\f]*<!doctype[^>]*>", re.IGNORECASE)


def preview_document(html: str | None, text: str | None = None) -> str:
    """The HTML part (or, without one, the text part) as a complete, script-free document."""
    if html is None:
        html = text_document(text or "")
    doctype = _LEADING_DOCTYPE.match(html)
    if doctype is None:
        return _POLICY_META + html
    return doctype.group() + _POLICY_META + html[doctype.end() :]
