"""The URL-shortener list and the policy that extends or relaxes it.

The list ships as ``mailcard/data/shorteners.txt`` (CC BY-SA 4.0, see ``NOTICE-shorteners.md``) and
is read once, on first use. A host is shortened when, after normalisation and removal of one leading
``www.``, it equals a listed domain or is a subdomain of one — the host is matched, not the
registrable domain, because some entries are themselves subdomains (``on.ft.com``).

The platform deep-link domains ``t.me``, ``wa.me``, ``m.me`` and ``discord.gg`` stay flagged by
default (they are on the list); a business that links its Telegram channel or WhatsApp on purpose
puts them in :attr:`LinkPolicy.allowed_domains`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from mailcard.validation.urls import normalise_host

__all__ = [
    "PLATFORM_DEEP_LINK_DOMAINS",
    "LinkPolicy",
    "ShortenerMatcher",
    "builtin_shorteners",
    "matcher_for",
]

PLATFORM_DEEP_LINK_DOMAINS = ("t.me", "wa.me", "m.me", "discord.gg")


@dataclass(frozen=True, slots=True)
class LinkPolicy:
    """Per-installation link settings.

    ``extra_shorteners`` are flagged in addition to the built-in list; ``allowed_domains`` (and their
    subdomains) are never flagged, e.g. ``("t.me", "wa.me")`` or a brand's own short domain.
    """

    extra_shorteners: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()


def _clean_domain(entry: str) -> str:
    domain = normalise_host(entry.strip().lstrip("*").lstrip("."))
    return domain[4:] if domain.startswith("www.") else domain


@lru_cache(maxsize=1)
def builtin_shorteners() -> frozenset[str]:
    """The shipped list, read lazily once (nothing is loaded at import time)."""
    text = resources.files("mailcard").joinpath("data/shorteners.txt").read_text(encoding="utf-8")
    domains = (line.strip() for line in text.splitlines())
    return frozenset(d for d in domains if d and not d.startswith("#"))


class ShortenerMatcher:
    """Answers "is this (normalised) host a shortener?" for one policy."""

    _CACHE_LIMIT = 4096

    def __init__(self, shorteners: frozenset[str], allowed: frozenset[str]) -> None:
        self._shorteners = shorteners
        self._allowed = allowed
        # Hosts repeat a lot within a message (every link to the shop); the answer never changes.
        self._cache: dict[str, str | None] = {}

    def match(self, host: str) -> str | None:
        """The listed domain that ``host`` (already normalised) falls under, or None."""
        try:
            return self._cache[host]
        except KeyError:
            pass
        result = self._match(host)
        if len(self._cache) >= self._CACHE_LIMIT:
            self._cache.clear()
        self._cache[host] = result
        return result

    def _match(self, host: str) -> str | None:
        if host.startswith("www."):
            host = host[4:]
        if "." not in host:
            return None
        labels = host.split(".")
        suffixes = [".".join(labels[i:]) for i in range(len(labels) - 1)]
        if self._allowed and any(s in self._allowed for s in suffixes):
            return None
        for suffix in suffixes:
            if suffix in self._shorteners:
                return suffix
        return None


@lru_cache(maxsize=64)
def matcher_for(policy: LinkPolicy) -> ShortenerMatcher:
    extra = frozenset(_clean_domain(d) for d in policy.extra_shorteners if d.strip())
    allowed = frozenset(_clean_domain(d) for d in policy.allowed_domains if d.strip())
    return ShortenerMatcher(builtin_shorteners() | extra, allowed)
