"""``check_content``: the one entry point that runs every content check and returns a ``Report``.

Errors (``header_injection``, ``unsafe_*``) block the send, mailing or rule; warnings
(``shortened_link``, ``relative_link``, ``html_too_large``, ``empty_subject``) are shown but do not
block; ``missing_text_part`` is information. Unresolved template variables are reported by the
rendering layer, not here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from selectolax.lexbor import LexborHTMLParser

from mailcard.domain.mailbox import Mailbox
from mailcard.validation.findings import Finding, Location, Part, Report
from mailcard.validation.headers import header_injection_finding
from mailcard.validation.html import HtmlAnalysis, analyse_html
from mailcard.validation.links import ShortLink, find_short_links_in_text, short_link_for_url
from mailcard.validation.shorteners import LinkPolicy, matcher_for

__all__ = ["GMAIL_CLIP_BYTES", "HTML_SIZE_WARNING_BYTES", "ContentToCheck", "check_content"]

GMAIL_CLIP_BYTES = 102 * 1024
# Warn a little before Gmail's limit: transfer encoding and headers add to the size on the wire.
HTML_SIZE_WARNING_BYTES = 100 * 1024


@dataclass(frozen=True, slots=True)
class ContentToCheck:
    """What a message will contain. ``None`` means "not part of this check" (no finding about it)."""

    subject: str | None = None
    preheader: str | None = None
    html: str | None = None
    text: str | None = None
    sender: Mailbox | None = None
    recipients: Sequence[Mailbox] = ()


# The two findings that carry nothing of the message: one shared value each (a Finding is frozen),
# instead of building the same objects for every message of a mailing (HTML-only mail always gets
# missing_text_part).
_EMPTY_SUBJECT: Final = Finding(
    code="empty_subject",
    severity="warning",
    message="The subject is empty: messages without a subject look like spam and are rarely opened.",
    hint="Write a short subject saying what the message is about.",
    location=Location("subject"),
)
_MISSING_TEXT_PART: Final = Finding(
    code="missing_text_part",
    severity="info",
    message=(
        "The message has no plain-text part: some clients and spam filters prefer messages that have one."
    ),
    hint="Add a text version (it can be generated from the HTML).",
    location=Location("text"),
)


def _position(source: str, needle: str) -> tuple[int | None, int | None]:
    index = source.find(needle)
    if index < 0:
        index = source.lower().find(needle.lower())
    if index < 0:
        return None, None
    return source.count("\n", 0, index) + 1, index - (source.rfind("\n", 0, index) + 1) + 1


def _short_link_finding(link: ShortLink, part: Part, source: str) -> Finding:
    line, column = _position(source, link.url)
    if line is None:
        line, column = _position(source, link.domain)
    return Finding(
        code="shortened_link",
        severity="warning",
        message=(
            f"Shortened link {link.url} ({link.domain}): use the full URL instead. "
            "Spam filters distrust shortened links, so the message may land in spam."
        ),
        hint=(
            f"Replace it with the address it leads to. If {link.domain} is yours or trusted, add it to "
            "the allowed domains in the link settings."
        ),
        location=Location(part, line, column),
        excerpt=link.url if len(link.url) <= 120 else link.url[:117] + "...",
    )


def _header_findings(content: ContentToCheck) -> list[Finding]:
    findings: list[Finding] = []
    checks: list[tuple[str | None, str, Part]] = [
        (content.subject, "subject", "subject"),
        (content.preheader, "preheader", "preheader"),
    ]
    if content.sender is not None:
        checks.append((content.sender.display_name, "sender's display name", "from"))
        checks.append((content.sender.address, "sender's address", "from"))
    for mailbox in content.recipients:
        checks.append((mailbox.display_name, f"display name of {mailbox.address!r}", "to"))
        checks.append((mailbox.address, "recipient address", "to"))
    for value, field, part in checks:
        if value:
            finding = header_injection_finding(value, field, part)
            if finding is not None:
                findings.append(finding)
    return findings


def _html_findings(
    html: str, policy: LinkPolicy, parsed: LexborHTMLParser | None, analysis: HtmlAnalysis | None
) -> list[Finding]:
    if analysis is None:
        analysis = analyse_html(html, parsed=parsed)
    findings = [
        Finding(
            code=hit.code,
            severity="error",
            message=hit.message,
            hint=hit.hint,
            location=Location("html", hit.line, hit.column),
            excerpt=hit.excerpt,
        )
        for hit in analysis.hits
    ]
    matcher = matcher_for(policy)
    seen: set[str] = set()
    checked: set[str] = set()
    for candidate in analysis.links:
        # The same URL (every link to the shop, the logo) repeats; its answer does not change.
        if candidate.url in checked:
            continue
        checked.add(candidate.url)
        link = short_link_for_url(candidate.url, matcher)
        if link is not None and link.url not in seen:
            seen.add(link.url)
            findings.append(_short_link_finding(link, "html", html))
    for text in analysis.texts:
        for link in find_short_links_in_text(text, matcher):
            if link.url not in seen and not any(link.url in s or s in link.url for s in seen):
                seen.add(link.url)
                findings.append(_short_link_finding(link, "html", html))
    relative_seen: set[str] = set()
    for candidate in analysis.relative_links:
        if candidate.url in relative_seen:
            continue
        relative_seen.add(candidate.url)
        line, column = _position(html, candidate.url)
        findings.append(
            Finding(
                code="relative_link",
                severity="warning",
                message=(
                    f"Relative link {candidate.url!r} in <{candidate.tag} {candidate.attr}>: "
                    "an e-mail has no "
                    "base address, so it will not work in the recipient's mail client. Use a full URL "
                    "(https://...)."
                ),
                hint="Write the complete address, including https:// and your domain.",
                location=Location("html", line, column),
                excerpt=candidate.url,
            )
        )
    size = _utf8_size_if_over(html, HTML_SIZE_WARNING_BYTES)
    if size is not None:
        findings.append(
            Finding(
                code="html_too_large",
                severity="warning",
                message=(
                    f"The HTML part is {size / 1024:.0f} KB: Gmail clips messages over 102 KB and hides the "
                    "rest, including the unsubscribe link. Make the HTML smaller."
                ),
                hint=(
                    "Remove unused CSS, comments and repeated inline styles; host large content on your site."
                ),
                location=Location("html"),
                excerpt=None,
            )
        )
    return findings


def _text_link_findings(value: str, part: Part, policy: LinkPolicy) -> list[Finding]:
    seen: set[str] = set()
    findings = []
    for link in find_short_links_in_text(value, matcher_for(policy)):
        if link.url not in seen:
            seen.add(link.url)
            findings.append(_short_link_finding(link, part, value))
    return findings


def check_content(
    content: ContentToCheck,
    policy: LinkPolicy | None = None,
    *,
    html_tree: LexborHTMLParser | None = None,
    html_analysis: HtmlAnalysis | None = None,
) -> Report:
    """Run every content check on ``content`` and return the findings with the verdict.

    ``html_tree``: ``LexborHTMLParser(content.html)``, when the caller wants to reuse the parse (the
    composer generates the text part from it). The findings are the same with or without it; the
    checks remove the tree's ``<style>`` and ``<script>`` elements.

    ``html_analysis``: what :func:`~mailcard.validation.html.analyse_html` gives for
    ``content.html``, when the caller knows it without parsing (see
    :mod:`mailcard.compose.skeleton`); the size and text-part findings are still made here.
    """
    policy = policy or LinkPolicy()
    findings = _header_findings(content)
    if content.subject is not None:
        if not content.subject.strip():
            findings.append(_EMPTY_SUBJECT)
        findings += _text_link_findings(content.subject, "subject", policy)
    if content.preheader is not None:
        findings += _text_link_findings(content.preheader, "preheader", policy)
    if content.html is not None:
        findings += _html_findings(content.html, policy, html_tree, html_analysis)
        if not (content.text or "").strip():
            findings.append(_MISSING_TEXT_PART)
    if content.text is not None:
        findings += _text_link_findings(content.text, "text", policy)
    return Report(findings)


def _utf8_size_if_over(text: str, limit: int) -> int | None:
    """The UTF-8 size of ``text`` when it is over ``limit`` bytes, else ``None``.

    Copies only when it must: a character is at most 4 bytes, so a short text cannot be over, and in
    ASCII text (most templates) the character count is the byte count.
    """
    if len(text) * 4 <= limit:
        return None
    size = len(text) if text.isascii() else len(text.encode("utf-8"))
    return size if size > limit else None
