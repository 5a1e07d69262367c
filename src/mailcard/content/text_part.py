"""``html_to_text``: a readable text/plain alternative generated from the HTML part.

Rules (see docs/mime.md):

* invisible things are dropped: ``<head>``, ``<style>``, ``<script>``, ``<template>``, comments
  (including Outlook conditional comments), elements with inline ``display:none`` or
  ``max-height:0`` + ``overflow:hidden``, the ``hidden`` attribute or the ``preheader`` class;
* blocks (paragraphs, headings, lists, tables, divs) become lines, paragraphs and headings are
  separated by a blank line, ``<br>`` is a line break, ``<hr>`` a line of dashes;
* list items start with ``- `` (``1. `` in ordered lists), nested lists are indented;
* table cells of one row share a line, separated by `` | ``;
* links become ``text (url)``, or just the URL when the text is the URL (``mailto:`` too); links to
  ``#`` or ``javascript:`` keep only their text; images contribute their ``alt`` text;
* white space is collapsed as a browser would (except in ``<pre>``), zero-width characters are
  removed, entities are decoded by the parser;
* lines are wrapped at 78 characters, never inside a word, so URLs stay whole.
"""

from __future__ import annotations

import re
import textwrap
from typing import Final

from selectolax.lexbor import LexborHTMLParser, LexborNode

__all__ = ["WRAP_WIDTH", "finish_text", "html_to_text", "link_suffix", "text_layout"]

WRAP_WIDTH: Final = 78

_SKIP: Final = frozenset(
    {"head", "style", "script", "noscript", "template", "title", "meta", "link", "iframe", "object", "embed"}
)
_PARAGRAPH: Final = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "table", "blockquote", "pre", "hr", "address"}
)
_LINE: Final = frozenset(
    {
        "div", "tr", "li", "dt", "dd", "section", "article", "header", "footer", "main", "nav", "aside",
        "center", "form", "fieldset", "figure", "figcaption", "caption", "details", "summary", "tbody",
        "thead", "tfoot", "body", "html",
    }
)  # fmt: skip
# The line breaks a block owes before and after it (see _Writer.block): 2 for paragraphs, 1 for lines.
_LEVEL: Final = dict.fromkeys(_LINE, 1) | dict.fromkeys(_PARAGRAPH, 2)
# Tags with work of their own when left (the others in _LEVEL only owe line breaks).
_LEFT_BY_NAME: Final = frozenset({"ul", "ol", "a", "pre", "td", "th"})
# Tags with work to do on entering or leaving; every other element only passes its children on.
_BLOCK_OR_SPECIAL: Final = _PARAGRAPH | _LINE | {"br", "hr", "img", "ul", "ol", "li", "a", "pre", "td", "th"}
_HIDDEN_STYLE: Final = re.compile(r"display\s*:\s*none", re.IGNORECASE)
# The other common way to hide a preheader (Cerberus, Litmus): collapsed to zero height.
_ZERO_HEIGHT: Final = re.compile(r"max-height\s*:\s*0(?:px)?\s*(?:!important\s*)?(?:;|$)", re.IGNORECASE)
_OVERFLOW_HIDDEN: Final = re.compile(r"overflow\s*:\s*hidden", re.IGNORECASE)
_WS_CHARS: Final = " \t\n\r\f\u00a0\u2007"
_WS: Final = re.compile(f"[{_WS_CHARS}]+")
# Text that _WS.sub would change (any white space but a single space), as a pattern to combine.
_NEEDS_COLLAPSE: Final = "[\t\n\r\f\u00a0\u2007]|  "
# Invisible characters preheader fillers and templates are full of. ZWJ (U+200D) stays: it is
# part of emoji sequences.
_INVISIBLE_CHARS: Final = "[\u00ad\u034f\u200b\u200c\u2060\ufeff]"
_INVISIBLE: Final = re.compile(_INVISIBLE_CHARS)
# Text that needs writer.text rather than the plain-text fast path of html_to_text: one search
# instead of two per text node.
_NEEDS_WORK: Final = re.compile(f"{_INVISIBLE_CHARS}|{_NEEDS_COLLAPSE}")
_PRE_MARK: Final = "\x00"  # marks lines from <pre>, which must not be re-wrapped
_BULLET: Final = re.compile(r"( *)(- |\d+\. )?")
_BLANK_LINES: Final = re.compile(r"\n{3,}")


class _Writer:
    """Accumulates inline text with pending line breaks and spaces, like a tiny layout engine."""

    __slots__ = ("at_line_start", "breaks", "cell_separator", "out", "prefix", "space")

    def __init__(self) -> None:
        self.out: list[str] = []
        self.breaks = 0  # newlines owed before the next text (0, 1 or 2)
        self.space = False  # a collapsed space is owed before the next text
        self.at_line_start = True
        self.prefix = ""  # list bullet / indent for the next line that gets text
        self.cell_separator = False

    def block(self, level: int) -> None:
        if self.out:
            self.breaks = max(self.breaks, level)
        self.space = False
        self.cell_separator = False

    def line_break(self) -> None:
        if self.out:
            self.breaks = min(self.breaks + 1, 2)
            self.space = False

    def _start_text(self) -> None:
        if self.breaks:
            self.out.append("\n" * self.breaks)
            self.breaks = 0
            self.at_line_start = True
        if self.at_line_start:
            if self.prefix:
                self.out.append(self.prefix)
                self.prefix = ""
        elif self.cell_separator:
            self.out.append(" | ")
        elif self.space:
            self.out.append(" ")
        self.space = False
        self.cell_separator = False
        self.at_line_start = False

    def text(self, raw: str) -> None:
        # The two substitutions change nothing in printable text without double spaces or U+034F
        # (see the text-node fast path in html_to_text); link URLs and alt texts are such text.
        if raw.isprintable() and "  " not in raw and "\u034f" not in raw:
            text = raw
        else:
            text = _WS.sub(" ", _INVISIBLE.sub("", raw))
        if text.startswith(" ") and not self.at_line_start:
            self.space = True
        words = text.strip(" ")
        if not words:
            return
        self._start_text()
        self.out.append(words)
        self.space = text.endswith(" ")

    def pre(self, raw: str) -> None:
        text = _INVISIBLE.sub("", raw).replace("\r\n", "\n").replace("\r", "\n")
        if not text:
            return
        self._start_text()
        self.out.append(_PRE_MARK + text.replace("\n", "\n" + _PRE_MARK))


def _hidden(attrs: dict[str, str | None]) -> bool:
    """Whether an element with these (non-empty) attributes is hidden."""
    if "hidden" in attrs:
        return True
    style = attrs.get("style")
    if style and (
        _HIDDEN_STYLE.search(style) or (_ZERO_HEIGHT.search(style) and _OVERFLOW_HIDDEN.search(style))
    ):
        return True
    classes = attrs.get("class") or ""
    return "preheader" in classes.lower().split()


def link_suffix(href: str, label: str) -> str | None:
    """What to add after a link's text: `` (url)``, or None when the text already says it."""
    url = href.strip()
    if not url or url.startswith("#") or url.lower().startswith(("javascript:", "vbscript:", "data:")):
        return None
    label = label.strip()
    # Only an exact repeat is dropped: "example.com" as the text of "https://example.com/" still
    # gets the real URL, so the reader sees where the link goes.
    if label == url or (url.lower().startswith("mailto:") and label == url[7:]):
        return None
    return url


def html_to_text(html: str, *, tree: LexborHTMLParser | None = None) -> str:
    """A plain-text rendering of ``html`` for the text/plain alternative (ends with a newline).

    ``tree``: ``html`` already parsed (the composer shares the parse made for content validation,
    which may have removed ``<style>`` and ``<script>`` elements: they are skipped here anyway).
    """
    return finish_text(text_layout(html, tree=tree))


def text_layout(
    html: str,
    *,
    tree: LexborHTMLParser | None = None,
    anchors: list[tuple[str, str]] | None = None,
) -> str:
    """The text of ``html`` laid out in lines, before :func:`finish_text` trims and wraps them.

    ``anchors``: when given, gets ``(href, label)`` of every link whose end was written, the two
    strings :func:`link_suffix` decided on.
    """
    if tree is None:
        tree = LexborHTMLParser(html)
    root = tree.root
    if root is None:
        return ""
    writer = _Writer()
    out = writer.out
    lists: list[list[int]] = []  # per open list: [counter] (counter < 0 for unordered)
    links: list[tuple[int, str]] = []  # per open <a href>: (index in out, href)
    pre_depth = 0
    # Iterative walk (deeply nested layout tables must not hit the recursion limit). An entry is a
    # node to enter, or an element being left: the line breaks it owes (an int) when that is all
    # there is to do, else its tag name. This loop runs for every node of every message (it was a
    # third of composition), hence the inlined checks and the fast path for plain text below.
    stack: list[LexborNode | str | int] = [root]
    pop = stack.pop
    push = stack.append
    needs_work = _NEEDS_WORK.search
    while stack:
        entry = pop()
        if type(entry) is int:  # leaving a paragraph or line: writer.block(entry), inlined
            if out and writer.breaks < entry:
                writer.breaks = entry
            writer.space = writer.cell_separator = False
            continue
        if type(entry) is str:
            left = entry
            if left in ("ul", "ol"):
                lists.pop()
                if lists:  # a nested list ends a line, not a paragraph
                    writer.block(1)
                    continue
            elif left == "a":
                start, href = links.pop()
                label = "".join(out[start:])
                suffix = link_suffix(href, label)
                if anchors is not None:
                    anchors.append((href, label))
                if suffix is not None:
                    if label.strip():
                        writer.text(f" ({suffix})")
                    else:
                        writer.text(suffix)
            elif left == "pre":
                pre_depth -= 1
            elif left == "td" or left == "th":
                writer.cell_separator = not writer.at_line_start and not writer.breaks
            level = _LEVEL.get(left)
            if level is not None:  # (rare tags: only the int entries above need the inlined form)
                writer.block(level)
            continue
        node: LexborNode = entry  # type: ignore[assignment]  # neither int nor str
        if node.is_text_node:  # cheaper than comparing node.tag, which decodes the name
            content = node.text_content
            if not content:
                continue
            if pre_depth:
                writer.pre(content)
            elif not content.strip(_WS_CHARS):
                # White space between tags (mostly newlines): at most a space owed.
                if not writer.at_line_start:
                    writer.space = True
            elif (content.isprintable() and "  " not in content and "\u034f" not in content) or (
                needs_work(content) is None
            ):
                # Already collapsed text without invisible characters: what writer.text would do,
                # without its two substitutions. isprintable() is False for every character of
                # _NEEDS_WORK but U+034F (checked apart), and, unlike the regex, a C-level scan.
                # What writer.text does for such text, inlined (the most frequent node of all).
                if content[0] == " " and not writer.at_line_start:
                    writer.space = True
                words = content.strip(" ")
                if words:
                    writer._start_text()
                    out.append(words)
                    writer.space = content[-1] == " "
            else:
                writer.text(content)
            continue
        tag = node.tag
        if tag is None or tag.startswith("-") or tag in _SKIP:
            continue
        attributes = node.attributes
        if attributes and _hidden(attributes):  # most elements have no attributes: no call
            continue
        if tag in _BLOCK_OR_SPECIAL:
            level = _LEVEL.get(tag)
            if level is not None:  # writer.block(level), inlined
                if level == 2 and lists and (tag == "ul" or tag == "ol"):
                    level = 1  # a nested list starts on the next line, without a blank one
                if out and writer.breaks < level:
                    writer.breaks = level
                writer.space = writer.cell_separator = False
            if tag == "br":
                writer.line_break()
            elif tag == "hr":
                writer.text("-" * 20)
            elif tag == "img":
                writer.text(" " + (attributes.get("alt") or "") + " ")
            elif tag == "ul" or tag == "ol":
                lists.append([0 if tag == "ol" else -1])
            elif tag == "li":
                indent = "  " * max(len(lists) - 1, 0)
                if lists and lists[-1][0] >= 0:
                    lists[-1][0] += 1
                    writer.prefix = f"{indent}{lists[-1][0]}. "
                else:
                    writer.prefix = f"{indent}- "
            elif tag == "a":
                links.append((len(out), attributes.get("href") or ""))
            elif tag == "pre":
                pre_depth += 1
            # A marker for leaving, when there is work then (br and img have none; elements
            # outside _BLOCK_OR_SPECIAL push nothing either).
            if tag in _LEFT_BY_NAME:
                push(tag)
            elif level is not None:
                push(level)
        # Children pushed last first, so the first is entered next: walking the sibling links
        # backwards costs half of list(node.iter()) + reverse() (lexbor node objects either way).
        child = node.last_child
        while child is not None:
            push(child)
            child = child.prev
    return "".join(out)


def finish_text(text: str) -> str:
    """Lines of :func:`text_layout` trimmed, wrapped at :data:`WRAP_WIDTH` and ended with a newline."""
    if _PRE_MARK not in text:
        # The usual case, without the per-line checks below: no <pre> lines, nothing to wrap.
        lines = [line.rstrip() for line in text.split("\n")]
        if max(map(len, lines)) <= WRAP_WIDTH:
            return _end("\n".join(lines))
    lines = []
    for line in text.split("\n"):
        if line.startswith(_PRE_MARK):
            lines.append(line[1:].rstrip())
            continue
        line = line.rstrip()
        if len(line) <= WRAP_WIDTH:
            lines.append(line)
            continue
        match = _BULLET.match(line)
        indent = " " * (match.end() if match else 0)
        lines.extend(
            textwrap.wrap(
                line,
                width=WRAP_WIDTH,
                subsequent_indent=indent,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return _end("\n".join(lines))


def _end(text: str) -> str:
    if "\n\n\n" in text:  # a C-level test: the regex scans slowly through non-Latin text
        text = _BLANK_LINES.sub("\n\n", text)
    result = text.strip("\n")
    return result + "\n" if result else ""
