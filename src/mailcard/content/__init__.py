"""Content helpers for HTML e-mail: the hidden preheader and the plain-text alternative.

* :mod:`mailcard.content.preheader` -- ``inject_preheader``, ``preheader_for_text_only``
* :mod:`mailcard.content.text_part` -- ``html_to_text``
"""

from mailcard.content.preheader import inject_preheader, preheader_for_text_only
from mailcard.content.text_part import html_to_text

__all__ = ["html_to_text", "inject_preheader", "preheader_for_text_only"]
