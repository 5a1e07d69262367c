"""Content helpers for HTML e-mail: the hidden preheader, the plain-text alternative, safe previews.

* :mod:`mailcard.content.preheader` -- ``inject_preheader``, ``preheader_for_text_only``
* :mod:`mailcard.content.text_part` -- ``html_to_text``
* :mod:`mailcard.content.preview` -- ``preview_document`` (a part as a document that runs no script)
"""

from mailcard.content.preheader import inject_preheader, preheader_for_text_only
from mailcard.content.preview import preview_document
from mailcard.content.text_part import html_to_text

__all__ = ["html_to_text", "inject_preheader", "preheader_for_text_only", "preview_document"]
