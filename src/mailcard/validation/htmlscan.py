"""One walk over a parsed HTML tree, collecting everything the content checks need.

For each element we look at the tag and its attributes once and record:

* *hits*: active content (scripts, handlers, script URLs, frames, plugins, CSS hooks, ...);
* *links*: every URL-bearing attribute value and CSS ``url()`` (for the shortened-link warning);
* *relative links*: ``<a href="/path">`` and friends (a lint warning);
* nested HTML to scan separately: Outlook/IE conditional comments and ``srcdoc`` documents;
* whether the tree has constructs (``<svg>``, ``<math>``, ``<noscript>``) that can mutate on a
  serialise/re-parse round trip, so the caller knows when that (costly) second look is needed.

The walk judges the *parsed* tree — what a client sees — never the source text.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from mailcard.validation.css import (
    css_problems,
    css_problems_and_urls,
    css_problems_urls_and_comments,
    may_hide_anything,
    may_load_urls,
)
from mailcard.validation.rules import (
    ANIMATION_ELEMENTS,
    DATA_BINDING_ATTRIBUTES,
    FRAME_ELEMENTS,
    IMAGE_URL_CONTEXTS,
    PLUGIN_ELEMENTS,
    PROVIDER_WARNING,
    URL_ATTRIBUTES,
    is_data_block_script,
    is_event_handler_name,
)
from mailcard.validation.urls import (
    SCRIPT_SCHEMES,
    data_url_media_type,
    is_script_bearing_media_type,
    lenient_scheme,
    strip_url,
    url_scheme,
)

__all__ = ["WEB_PREFIXES", "Hit", "LinkCandidate", "TreeScan", "may_contain_script_entities", "scan_tree"]

# A conditional comment is "[if ...]>" + content + an optional "<![endif]" at the very end. Head and
# tail are matched separately: one pattern with a lazy "(.*?)" before the optional tail retries the
# tail at every character of the content.
_CONDITIONAL_HEAD = re.compile(r"\s*\[if\b[^\]]*\]\s*>", re.I)
_CONDITIONAL_TAIL = re.compile(r"<!\s*\[endif\]\s*\Z", re.I)
_NETSCAPE_ENTITY = re.compile(r"&\{.*\}", re.S)
_PLACEHOLDER = re.compile(r"\{\{|\{%|\*\||%%|\[\[|\$\{|\{\$|<%|^\[[A-Za-z_ ]+\]$")
_SPECIAL_ELEMENTS = frozenset(
    {"script", "style", "meta", "base", "link", "import", "applet", "svg", "math", "noscript"}
    | FRAME_ELEMENTS
    | PLUGIN_ELEMENTS
    | ANIMATION_ELEMENTS
)
# The attributes e-mail is made of; none of them is a URL, a handler or CSS.
_PLAIN_ATTRIBUTES = frozenset(
    [
        "class",
        "id",
        "width",
        "height",
        "align",
        "valign",
        "border",
        "cellpadding",
        "cellspacing",
        "role",
        "bgcolor",
        "alt",
        "title",
        "color",
        "face",
        "size",
        "colspan",
        "rowspan",
        "lang",
        "dir",
        "name",
        "type",
        "target",
        "rel",
        "charset",
        "http-equiv",
        "xmlns",
        "mc:edit",
        "mc:repeatable",
        "mc:hideable",
        "mc:label",
        "mc:variant",
        "aria-hidden",
        "aria-label",
        "bordercolor",
        "nowrap",
        "scope",
        "hspace",
        "vspace",
        "content",
    ]
)
_PLAIN_OR_STYLE_ATTRIBUTES = _PLAIN_ATTRIBUTES | {"style"}
# URLs with these prefixes neither run script nor are relative (the compose skeletons rely on it).
WEB_PREFIXES = ("https://", "http://")
# Lower-case HTML elements no element rule looks at (the tags e-mail layouts are made of); any other
# tag goes through the full tag checks.
_ORDINARY_TAGS = (
    frozenset(
        {"td", "tr", "th", "table", "tbody", "thead", "tfoot", "br", "a", "div", "p", "img", "span"}
        | {"strong", "b", "i", "u", "em", "h1", "h2", "h3", "h4", "h5", "h6", "center", "font", "li"}
        | {"ul", "ol", "hr", "html", "head", "body", "title", "small", "sup", "sub", "blockquote"}
    )
    - _SPECIAL_ELEMENTS
)
_RELATIVE_LINK_CONTEXTS = frozenset({("a", "href"), ("area", "href"), ("img", "src")})
_UTF7 = re.compile(r"utf-?7|unicode-1-1-utf-7|csunicode11utf7")
_SRCSET_SPLIT = re.compile(r",\s+|,(?=\S)")
# What makes an (ASCII, lower-cased) inline style worth decoding: the words and characters that
# css.may_hide_anything looks for, NUL (dropped by the decoder), and what css.may_load_urls looks for.
# Searched one by one with str.find: a regex alternation of them is several times slower.
_STYLE_HOOK_TOKENS = (
    *("expression", "behavio", "binding", "script", "import", "data:", "mocha", "vbs"),
    *("/*", "\\", "\x00"),
)
_STYLE_URL_TOKENS = ("url(", "@", "\\")


@dataclass(frozen=True, slots=True)
class Hit:
    """One piece of active content. ``key`` identifies it across the passes (for de-duplication)."""

    code: str
    message: str
    hint: str | None
    excerpt: str
    tag: str
    attr: str | None

    @property
    def key(self) -> tuple[str, str, str | None, str]:
        return (self.code, self.tag, self.attr, self.excerpt)


class LinkCandidate(NamedTuple):
    """A URL found in an attribute or style sheet (a tuple: the walk makes hundreds per document)."""

    url: str
    tag: str
    attr: str


@dataclass(slots=True)
class TreeScan:
    hits: list[Hit] = field(default_factory=list)
    links: list[LinkCandidate] = field(default_factory=list)
    relative_links: list[LinkCandidate] = field(default_factory=list)
    conditional_comments: list[str] = field(default_factory=list)
    srcdocs: list[tuple[str, str]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    can_mutate: bool = False
    # Whether the tree has a <style> or <script> element (any namespace), which the caller must
    # remove before taking the visible text.
    has_style_or_script: bool = False


def _excerpt(tag: str, attr: str | None, value: str | None) -> str:
    if attr is None:
        return f"<{tag}>"
    text = f"<{tag} {attr}={value!r}>" if value is not None else f"<{tag} {attr}>"
    return text if len(text) <= 120 else text[:117] + "...>"


def _script_url_problem(value: str, *, image_context: bool) -> str | None:
    """'javascript:' / 'data: (text/html)' when the URL can run script, else None."""
    scheme = lenient_scheme(value)
    if scheme is None:
        return None
    if scheme in SCRIPT_SCHEMES:
        return f"{scheme}:"
    if scheme == "data":
        stripped = strip_url(value)
        media_type = data_url_media_type(stripped[stripped.lower().find("data:") :])
        if is_script_bearing_media_type(media_type, image_context=image_context):
            return f"data: ({media_type or 'no type'})"
    return None


_SCRIPT_ENTITY_IN_SOURCE = re.compile(
    r"&(?:amp;?|#0*38;?|#x0*26;?)?(?:\{|&#0*123;?|&#x0*7b;?|&lcub;|&lbrace;)", re.I
)


def may_contain_script_entities(source: str) -> bool:
    """False when no attribute value of ``source`` can decode to ``&{`` (Netscape script entity)."""
    return _SCRIPT_ENTITY_IN_SOURCE.search(source) is not None


class _Walker:
    """Applies the rules to one tree; a class only to share the result and the switches."""

    def __init__(self, collect_links: bool, check_entities: bool) -> None:
        self.scan = TreeScan()
        self.collect_links = collect_links
        self.check_entities = check_entities
        # Inline styles are judged together after the walk: one search over all of them usually
        # clears them all (see flush_styles).
        self.styles: list[tuple[str, str]] = []

    def hit(
        self, code: str, message: str, hint: str | None, tag: str, attr: str | None, value: str | None
    ) -> None:
        self.scan.hits.append(Hit(code, message, hint, _excerpt(tag, attr, value), tag, attr))

    def walk(self, document: Any) -> TreeScan:
        special = _SPECIAL_ELEMENTS
        plain_or_style = _PLAIN_OR_STYLE_ATTRIBUTES
        fast = not self.check_entities
        styles = self.styles
        ordinary = _ORDINARY_TAGS
        for node in document.traverse(include_text=False):
            tag: str | None = node.tag
            if tag in ordinary:
                name = tag  # the bulk of an e-mail (td, tr, table, a, img...): no element rule applies
                attributes = node.attributes
            elif tag is None:
                # lexbor's processing instruction, "<?php ... ?>" (a browser's bogus comment): inert.
                continue
            elif tag[0] == "-":
                if tag == "-comment":
                    data = node.comment_content
                    # Conditional comments start with "[if": skip the others without a call.
                    if data and "[" in data[:10]:
                        self.comment(data)
                continue
            else:
                name = tag.lower()
                attributes = node.attributes
                if ":" in name and name.rpartition(":")[2] in ANIMATION_ELEMENTS:
                    self.animation(name, attributes)
                elif name in special:
                    self.element(node, name, attributes)
            if not attributes:
                continue
            if fast and attributes.keys() <= plain_or_style:
                # Layout attributes and an inline style: the bulk of an e-mail's markup.
                style = attributes.get("style")
                if style:
                    styles.append((name, style))
            else:
                self.attributes(name, attributes)
        self.flush_styles()
        return self.scan

    def flush_styles(self) -> None:
        styles = self.styles
        if not styles:
            return
        joined = "\n".join(css for _, css in styles)
        if not joined.isascii():
            # lower() may change lengths outside ASCII, so positions in the joined text do not map
            # back to styles: judge each style on its own.
            for tag, css in styles:
                if self.style_needs_look(css):
                    self.style_attribute(tag, css)
            return
        # One C-level search over all inline styles finds the few that can hold a script hook or a
        # URL; a style without any of those tokens decodes to itself and has nothing to report. No
        # token can span the "\n" separator, so each match belongs to exactly one style.
        low = joined.lower()
        starts: list[int] = []
        offset = 0
        for _, css in styles:
            starts.append(offset)
            offset += len(css) + 1
        tokens = _STYLE_HOOK_TOKENS + _STYLE_URL_TOKENS if self.collect_links else _STYLE_HOOK_TOKENS
        wanted: set[int] = set()
        for token in tokens:
            at = low.find(token)
            while at >= 0:
                index = bisect_right(starts, at) - 1
                wanted.add(index)
                # One hit is enough for a style: go on after its end.
                next_start = starts[index + 1] if index + 1 < len(starts) else len(low)
                at = low.find(token, next_start)
        for index in sorted(wanted):
            tag, css = styles[index]
            self.style_attribute(tag, css)

    def style_needs_look(self, css: str) -> bool:
        """False for a style that is free of comments, escapes, NULs, suspicious words and URLs."""
        return may_hide_anything(css) or "\x00" in css or (self.collect_links and may_load_urls(css))

    def comment(self, data: str) -> None:
        if "[" not in data[:10]:
            return
        head = _CONDITIONAL_HEAD.match(data)
        if head:
            tail = _CONDITIONAL_TAIL.search(data, head.end())
            self.scan.conditional_comments.append(data[head.end() : tail.start() if tail else len(data)])

    def element(self, node: Any, name: str, attrs: dict[str, str | None]) -> None:
        if name == "script" or name == "style":
            self.scan.has_style_or_script = True
        if name == "script":
            if not is_data_block_script(attrs.get("type")):
                self.hit(
                    "unsafe_script",
                    "Remove the <script> element: e-mail clients do not run JavaScript and "
                    f"{PROVIDER_WARNING}.",
                    "Move any logic to your site; in e-mail use plain links and images.",
                    "script",
                    None,
                    None,
                )
        elif name in FRAME_ELEMENTS:
            self.hit(
                "unsafe_frame",
                f"Remove the <{name}>: e-mail clients block frames and {PROVIDER_WARNING}.",
                "Link to the page instead of embedding it.",
                name,
                None,
                None,
            )
        elif name in PLUGIN_ELEMENTS:
            activex = " (ActiveX control)" if attrs.get("classid") else " (plugin content)"
            self.hit(
                "unsafe_object",
                f"Remove the <{name}>{activex}: plugins and ActiveX never run in e-mail and "
                f"{PROVIDER_WARNING}.",
                "Use an image with a link to the content instead.",
                name,
                "classid" if attrs.get("classid") else None,
                attrs.get("classid"),
            )
        elif name == "applet":
            self.hit(
                "unsafe_applet",
                f"Remove the <applet>: Java applets never run in e-mail and {PROVIDER_WARNING}.",
                "Use an image with a link instead.",
                name,
                None,
                None,
            )
        elif name == "import" and attrs.get("implementation"):
            self.hit(
                "unsafe_behavior",
                f"Remove the <import implementation=...>: Internet Explorer behaviors run script and "
                f"{PROVIDER_WARNING}.",
                None,
                name,
                "implementation",
                attrs.get("implementation"),
            )
        elif name == "style":
            self.style_element(node, attrs)
        elif name == "meta":
            self.meta(attrs)
        elif name == "link":
            rel = (attrs.get("rel") or "").lower()
            href = attrs.get("href") or ""
            if "import" in rel.split():
                self.hit(
                    "unsafe_import",
                    "Remove the <link rel=import>: HTML imports load and run other documents; "
                    f"{PROVIDER_WARNING}.",
                    None,
                    name,
                    "rel",
                    attrs.get("rel"),
                )
            elif strip_url(href).lower().startswith("data:"):
                self.hit(
                    "unsafe_css",
                    "Remove the data: style sheet from <link href>: it can hide script hooks and "
                    f"{PROVIDER_WARNING}.",
                    "Put the CSS in a <style> block or inline styles.",
                    name,
                    "href",
                    href,
                )
        elif name in ANIMATION_ELEMENTS:
            self.animation(name, attrs)
        elif name in ("svg", "math", "noscript"):
            self.scan.can_mutate = True

    def style_element(self, node: Any, attrs: dict[str, str | None]) -> None:
        style_type = (attrs.get("type") or "").lower()
        if "script" in style_type:
            self.hit(
                "unsafe_script",
                f"Remove the <style type={style_type!r}>: it is JavaScript, not CSS, and {PROVIDER_WARNING}.",
                None,
                "style",
                "type",
                style_type,
            )
            return
        css = node.text(deep=True)
        if self.collect_links:
            problems, urls, comments = css_problems_urls_and_comments(css)
        else:
            problems, urls, comments = css_problems(css), [], []
        for problem in problems:
            self.hit(
                "unsafe_css",
                f"Remove {problem.what} from the <style> block: it runs script in old mail clients and "
                f"{PROVIDER_WARNING}.",
                "Keep to plain CSS properties.",
                "style",
                None,
                problem.excerpt,
            )
        self.scan.links.extend(LinkCandidate(u, "style", "url()") for u in urls)
        self.scan.texts.extend(c[2:-2] for c in comments if "/" in c[2:-2])

    def meta(self, attrs: dict[str, str | None]) -> None:
        equiv = (attrs.get("http-equiv") or "").strip().lower()
        content = attrs.get("content") or ""
        charset = (attrs.get("charset") or "").lower()
        if _UTF7.search(charset) or (equiv == "content-type" and _UTF7.search(content.lower())):
            self.hit(
                "unsafe_charset",
                "Remove the UTF-7 charset declaration from <meta>: UTF-7 hides markup from filters "
                f"(+ADw-script+AD4-) and {PROVIDER_WARNING}.",
                "Declare UTF-8.",
                "meta",
                "charset" if charset else "content",
                charset or content,
            )
        if not equiv:
            return
        compact = strip_url(content).lower().replace(" ", "")
        problem = None
        if any(f"{scheme}:" in compact for scheme in SCRIPT_SCHEMES):
            problem = "a script URL"
        elif "data:" in compact:
            problem = "a data: URL"
        if problem is None:
            return
        if equiv == "refresh":
            self.hit(
                "unsafe_meta_refresh",
                f"Remove the <meta http-equiv=refresh> to {problem}: redirects that run script are blocked "
                f"and {PROVIDER_WARNING}.",
                "Use an ordinary link instead of a redirect.",
                "meta",
                "content",
                content,
            )
        else:
            self.hit(
                "unsafe_meta",
                f"Remove the <meta http-equiv={equiv}> with {problem}: {PROVIDER_WARNING}.",
                None,
                "meta",
                "content",
                content,
            )

    def animation(self, name: str, attributes: dict[str, str | None]) -> None:
        # SVG keeps camelCase attribute names (attributeName); old IE HTML+TIME used any case.
        attrs = {key.lower(): value for key, value in attributes.items()}
        target = (attrs.get("attributename") or "").strip().lower()
        if is_event_handler_name(target):
            self.hit(
                "unsafe_event_handler",
                f"Remove the SVG <{name}> that sets the {target} event handler: it runs JavaScript and "
                f"{PROVIDER_WARNING}.",
                None,
                name,
                "attributename",
                target,
            )
            return
        if target in ("innerhtml", "outerhtml"):
            for attr in ("to", "from", "values", "by"):
                if attrs.get(attr):
                    self.scan.srcdocs.append((name, attrs.get(attr) or ""))
            return
        if target not in URL_ATTRIBUTES and not target.endswith(":href"):
            return
        for attr in ("to", "from", "values", "by"):
            value = attrs.get(attr)
            if not value:
                continue
            for part in value.split(";"):
                problem = _script_url_problem(part, image_context=False)
                if problem:
                    self.hit(
                        "unsafe_url",
                        f"Remove the SVG <{name}> that sets {target} to a {problem} URL: it runs script and "
                        f"{PROVIDER_WARNING}.",
                        None,
                        name,
                        attr,
                        value,
                    )
                    break

    def attributes(self, tag: str, attrs: dict[str, str | None]) -> None:
        for attr, raw_value in attrs.items():
            value = raw_value or ""
            if attr in _PLAIN_ATTRIBUTES:
                pass  # layout attributes: only the script-entity test below applies
            elif attr.startswith("on") and is_event_handler_name(attr):
                self.hit(
                    "unsafe_event_handler",
                    f"Remove the {attr} attribute from <{tag}>: event handlers are JavaScript and "
                    f"{PROVIDER_WARNING}.",
                    'Use a plain link (<a href="https://...">) for anything clickable.',
                    tag,
                    attr,
                    value,
                )
            elif attr in URL_ATTRIBUTES or attr.endswith(":href"):
                self.url_attribute(tag, attr, value)
            elif attr == "style":
                self.styles.append((tag, value))
            elif attr == "srcdoc":
                self.scan.srcdocs.append((tag, value))
            elif attr in DATA_BINDING_ATTRIBUTES:
                self.hit(
                    "unsafe_data_binding",
                    f"Remove the {attr} attribute from <{tag}>: Internet Explorer data binding can inject "
                    f"script and {PROVIDER_WARNING}.",
                    None,
                    tag,
                    attr,
                    value,
                )
            if self.check_entities and "&{" in value and _NETSCAPE_ENTITY.search(value):
                self.hit(
                    "unsafe_script_entity",
                    f"Remove the &{{...}} script entity from <{tag} {attr}>: "
                    f"old browsers run it as JavaScript and {PROVIDER_WARNING}.",
                    None,
                    tag,
                    attr,
                    value,
                )

    def url_attribute(self, tag: str, attr: str, value: str) -> None:
        if attr in ("srcset", "imagesrcset"):
            urls = [candidate.strip().split(" ", 1)[0] for candidate in _SRCSET_SPLIT.split(value)]
        else:
            urls = [value]
        image_context = (tag, attr) in IMAGE_URL_CONTEXTS or attr in ("background", "poster")
        for url in urls:
            if url.startswith(WEB_PREFIXES):
                # The usual absolute link: its scheme is http(s), so it neither runs script nor is
                # relative; only the shortened-link check needs it.
                if self.collect_links:
                    self.scan.links.append(LinkCandidate(url, tag, attr))
                continue
            problem = _script_url_problem(url, image_context=image_context)
            if problem is not None:
                if attr in ("action", "formaction"):
                    code = "unsafe_form_action"
                elif tag == "base":
                    code = "unsafe_base"
                else:
                    code = "unsafe_url"
                self.hit(
                    code,
                    f"Remove the {problem} URL from <{tag} {attr}>: "
                    f"URLs that run script are blocked by mail clients and {PROVIDER_WARNING}.",
                    "Use an ordinary https:// address.",
                    tag,
                    attr,
                    value,
                )
                continue
            if not self.collect_links or not url:
                continue
            self.scan.links.append(LinkCandidate(url, tag, attr))
            if (tag, attr) in _RELATIVE_LINK_CONTEXTS:
                stripped = strip_url(url)
                if (
                    stripped
                    and not stripped.startswith(("#", "//", "\\\\"))
                    and url_scheme(stripped) is None
                    and not _PLACEHOLDER.search(stripped)
                ):
                    self.scan.relative_links.append(LinkCandidate(url, tag, attr))

    def style_attribute(self, tag: str, value: str) -> None:
        problems, urls = css_problems_and_urls(value) if self.collect_links else (css_problems(value), [])
        for problem in problems:
            self.hit(
                "unsafe_css",
                f"Remove {problem.what} from the style of <{tag}>: it runs script in old mail clients and "
                f"{PROVIDER_WARNING}.",
                "Keep to plain CSS properties.",
                tag,
                "style",
                problem.excerpt,
            )
        self.scan.links.extend(LinkCandidate(u, tag, "style") for u in urls)


def scan_tree(document: Any, *, collect_links: bool = True, check_entities: bool = True) -> TreeScan:
    """Walk ``document`` (a selectolax document node) once and return what was found.

    ``check_entities=False`` skips the Netscape ``&{...}`` test; pass it only when
    :func:`may_contain_script_entities` is false for the source.
    """
    return _Walker(collect_links, check_entities).walk(document)
