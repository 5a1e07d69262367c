"""What counts as active content in e-mail HTML: element and attribute tables, and the messages.

Only tables and message builders live here; :mod:`mailcard.validation.htmlscan` applies them to a
parsed tree. Messages name the element and say what to do.
"""

from __future__ import annotations

import re

__all__ = [
    "ANIMATION_ELEMENTS",
    "DATA_BINDING_ATTRIBUTES",
    "FRAME_ELEMENTS",
    "IMAGE_URL_CONTEXTS",
    "PLUGIN_ELEMENTS",
    "PROVIDER_WARNING",
    "URL_ATTRIBUTES",
    "is_data_block_script",
    "is_event_handler_name",
]

PROVIDER_WARNING = "providers may block your mailings because of it"

# Attributes whose value the browser loads or follows as a URL (lower-case names as the parser
# reports them; SVG/XLink attributes keep their prefix).
URL_ATTRIBUTES = frozenset(
    {
        "href",
        "src",
        "action",
        "formaction",
        "background",
        "poster",
        "srcset",
        "imagesrcset",
        "xlink:href",
        "lowsrc",
        "dynsrc",
        "data",
        "codebase",
        "cite",
        "longdesc",
        "usemap",
        "profile",
        "manifest",
        "icon",
        "ping",
        "archive",
        "classid",
        "code",
        "folder",
        "xml:base",
    }
)

# (element, attribute) pairs where the URL is loaded as an image: SVG there never runs script.
IMAGE_URL_CONTEXTS = frozenset(
    {
        ("img", "src"),
        ("img", "srcset"),
        ("img", "lowsrc"),
        ("img", "dynsrc"),
        ("source", "srcset"),
        ("input", "src"),
        ("video", "poster"),
    }
)

FRAME_ELEMENTS = frozenset({"iframe", "frame", "frameset", "layer", "ilayer", "portal", "fencedframe"})
PLUGIN_ELEMENTS = frozenset({"object", "embed"})
ANIMATION_ELEMENTS = frozenset({"animate", "set", "animatemotion", "animatetransform", "animatecolor"})
DATA_BINDING_ATTRIBUTES = frozenset({"datasrc", "datafld", "dataformatas"})

_EVENT_HANDLER = re.compile(r"on[a-z]+")


def is_event_handler_name(name: str) -> bool:
    """``onload``, ``onerror``, ``onbegin``... Any ``on`` + letters: engines keep inventing events."""
    return name.startswith("on") and _EVENT_HANDLER.fullmatch(name) is not None


# Script types that make a <script> a data block (never executed). Everything else, including
# legacy types IE ran (text/vbscript, text/jscript), is treated as executable.
_DATA_BLOCK_TYPE = re.compile(
    r"(?:application|text)/(?:[a-z0-9.\-]+\+)?json"
    r"|text/(?:x-)?(?:template|handlebars(?:-template)?|mustache|x-handlebars-template|plain|markdown)"
    r"|text/(?:x-)?(?:tmpl|jquery-tmpl|ng-template|html-template|underscore-template)"
)
_SCRIPTY_TYPE = re.compile(r"script|module|babel|jsx|typescript|vbs|importmap|speculationrules")


def is_data_block_script(type_value: str | None) -> bool:
    """Whether ``<script type=...>`` is a data block such as ``application/ld+json`` (not executed)."""
    if type_value is None:
        return False
    essence = type_value.split(";", 1)[0].strip().lower()
    if not essence or _SCRIPTY_TYPE.search(essence):
        return False
    return _DATA_BLOCK_TYPE.fullmatch(essence) is not None
