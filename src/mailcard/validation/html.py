"""Active-content analysis of an HTML part: every pass the BLOCK decision needs, and its locations.

Passes, each a parse with lexbor (the spec-compliant HTML5 parser) and one walk
(:func:`mailcard.validation.htmlscan.scan_tree`):

1. the document as the client parses it;
2. the content of every Outlook/IE conditional comment and every ``srcdoc``, parsed as HTML
   (IE and Outlook render conditional comments; ``srcdoc`` is a whole document);
3. only when the document has ``<noscript>``: the document as a browser with scripting *enabled*
   parses it (``<noscript>`` content is then raw text; lexbor parses with scripting off);
4. only when the tree has constructs that can mutate (``<svg>``, ``<math>``, ``<noscript>``): the
   tree serialised the classic way and parsed again — the round trip CSS inliners, sanitizers and
   template engines perform. What is active only there is reported as ``unsafe_mutation``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser

from mailcard.validation.htmlscan import Hit, LinkCandidate, may_contain_script_entities, scan_tree
from mailcard.validation.serialize import serialize_classic

__all__ = ["HtmlAnalysis", "LocatedHit", "analyse_html"]

_MAX_DEPTH = 3
_NOSCRIPT = re.compile(r"(</?)noscript", re.I)


@dataclass(frozen=True, slots=True)
class LocatedHit:
    """A hit with its final code/message (after pass-specific wording) and 1-based position, if found."""

    code: str
    message: str
    hint: str | None
    excerpt: str
    line: int | None
    column: int | None


@dataclass(slots=True)
class HtmlAnalysis:
    hits: list[LocatedHit] = field(default_factory=list)
    links: list[LinkCandidate] = field(default_factory=list)
    relative_links: list[LinkCandidate] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Pending:
    hit: Hit
    code: str
    message: str


def _document(parser: LexborHTMLParser) -> object:
    root = parser.root
    return root.parent if root is not None and root.parent is not None else root


def _scripting_enabled_view(source: str) -> str:
    """The source with <noscript> renamed to <noembed>, a raw-text element a parser with scripting
    off treats exactly like <noscript> with scripting on."""
    return _NOSCRIPT.sub(r"\1noembed", source)


class _Analyser:
    def __init__(self, collect_links: bool) -> None:
        self.collect_links = collect_links
        self.pending: list[_Pending] = []
        self.seen: set[tuple[str, str, str | None, str]] = set()
        # Nested documents already analysed. Outlook templates repeat the same conditional comment
        # (`<!--[if mso]></td><td><![endif]-->`); a repeat can only yield hits, links and texts that
        # are de-duplicated later, so it is analysed once.
        self.nested_done: set[tuple[str, int, str, bool]] = set()
        self.result = HtmlAnalysis()

    def add(self, hits: list[Hit], *, suffix: str = "", mutation: bool = False) -> None:
        for hit in hits:
            if hit.key in self.seen:
                continue
            self.seen.add(hit.key)
            if mutation:
                code = "unsafe_mutation"
                message = (
                    f"Malformed markup around <svg>, <math>, <noscript> or <form> turns into active content "
                    f"when the HTML is re-serialised (by a CSS inliner, sanitizer or mail client): "
                    f"{hit.message[0].lower()}{hit.message[1:]}"
                )
            else:
                code, message = hit.code, hit.message
            if suffix:
                message = f"{message.rstrip('.')} ({suffix})."
            self.pending.append(_Pending(hit, code, message))

    def analyse(
        self,
        source: str,
        depth: int,
        suffix: str,
        collect_links: bool,
        parser: LexborHTMLParser | None = None,
    ) -> None:
        if parser is None:
            parser = LexborHTMLParser(source)
        document = _document(parser)
        scan = scan_tree(
            document, collect_links=collect_links, check_entities=may_contain_script_entities(source)
        )
        self.add(scan.hits, suffix=suffix)
        if collect_links:
            self.result.links.extend(scan.links)
            self.result.relative_links.extend(scan.relative_links)
            self.result.texts.extend(scan.texts)
        if depth < _MAX_DEPTH:
            for content in scan.conditional_comments:
                self.nested(content, depth + 1, "inside an Outlook/IE conditional comment", collect_links)
            for tag, srcdoc in scan.srcdocs:
                self.nested(srcdoc, depth + 1, f"inside the srcdoc of <{tag}>", False)
        has_noscript = "noscript" in source.lower() if scan.can_mutate else False
        if has_noscript:
            scripting = scan_tree(
                _document(LexborHTMLParser(_scripting_enabled_view(source))), collect_links=False
            )
            self.add(scripting.hits, suffix="inside <noscript>, as a client with scripting enabled reads it")
        if scan.can_mutate:
            serialised = serialize_classic(document)
            views = [serialised]
            if has_noscript:
                views.append(_scripting_enabled_view(serialised))
            for view in views:
                reparsed = scan_tree(_document(LexborHTMLParser(view)), collect_links=False)
                self.add(reparsed.hits, mutation=True)
        if collect_links and parser.root is not None:
            # Visible text for bare URLs; style sheets were handled by the walk (url() and comments).
            # The walk saw every element, so without one to strip, strip_tags (two CSS-selector
            # searches, ~3 us) is skipped.
            if scan.has_style_or_script:
                parser.strip_tags(["style", "script"])
            self.result.texts.append(parser.root.text(separator="\n"))

    def nested(self, source: str, depth: int, suffix: str, collect_links: bool) -> None:
        key = (source, depth, suffix, collect_links)
        if key not in self.nested_done:
            self.nested_done.add(key)
            self.analyse(source, depth, suffix, collect_links)


class _Locator:
    """Finds hits in the source text, in document order, to give them a line and column."""

    def __init__(self, source: str) -> None:
        self.source = source.lower()
        self.cursor: dict[str, int] = {}

    def locate(self, hit: Hit) -> tuple[int | None, int | None]:
        needle = f"<{hit.tag.lower()}"
        start = self.source.find(needle, self.cursor.get(needle, 0))
        if start < 0:
            start = self.source.find(needle)
        if start >= 0:
            self.cursor[needle] = start + 1
            if hit.attr:
                at = self.source.find(hit.attr.lower(), start)
                start = at if at >= 0 else start
        elif hit.attr:
            start = self.source.find(hit.attr.lower())
        if start < 0:
            return None, None
        line = self.source.count("\n", 0, start) + 1
        column = start - (self.source.rfind("\n", 0, start) + 1) + 1
        return line, column


def analyse_html(
    source: str, *, collect_links: bool = True, parsed: LexborHTMLParser | None = None
) -> HtmlAnalysis:
    """Everything the content checks need from one HTML part.

    ``parsed``: ``LexborHTMLParser(source)``, when the caller has it (to share one parse with the
    text part). The analysis removes its ``<style>`` and ``<script>`` elements (with
    ``collect_links``); nothing else in the tree changes.
    """
    analyser = _Analyser(collect_links)
    analyser.analyse(source, 0, "", collect_links, parsed)
    result = analyser.result
    if analyser.pending:
        locator = _Locator(source)
        for pending in analyser.pending:
            line, column = locator.locate(pending.hit)
            result.hits.append(
                LocatedHit(pending.code, pending.message, pending.hit.hint, pending.hit.excerpt, line, column)
            )
    return result
