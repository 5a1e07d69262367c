"""The 36 benign open-source templates: text alternative and preheader injection on real HTML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser, LexborNode
from tests.support.corpora import benign_files

from mailcard.content import html_to_text, inject_preheader
from mailcard.content.preheader import preheader_block

CORPUS = benign_files()
PREHEADER = "Ваш заказ №123 отправлен — 您的订单已发货 <скидка> & more"
_HIDDEN = re.compile(r"display\s*:\s*none", re.IGNORECASE)


def _templates(corpora_dir: Path) -> list[Path]:
    files = sorted((corpora_dir / "benign-html").glob("*.html"))
    assert len(files) == 36
    return files


def _is_hidden(node: LexborNode) -> bool:
    current: LexborNode | None = node
    while current is not None and current.tag not in ("html", "-document"):
        attrs = current.attributes if current.is_element_node else {}
        if current.tag in ("head", "style", "script", "template", "noscript"):
            return True
        style = attrs.get("style") or ""
        if "hidden" in attrs or _HIDDEN.search(style):
            return True
        if re.search(r"max-height:\s*0(px)?\s*;", style) and "overflow:hidden" in style.replace(" ", ""):
            return True
        if "preheader" in (attrs.get("class") or "").lower().split():
            return True
        current = current.parent
    return False


def _visible_urls(html: str) -> list[str]:
    tree = LexborHTMLParser(html)
    urls = []
    for link in tree.css("a[href]"):
        href = (link.attributes.get("href") or "").strip()
        if re.match(r"https?://\S", href) and not _is_hidden(link):
            urls.append(href)
    return urls


def test_corpus_is_there(corpora_dir: Path) -> None:
    assert _templates(corpora_dir)


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_text_part_is_readable_and_keeps_links(path: Path) -> None:
    html = path.read_text(encoding="utf-8")
    text = html_to_text(html)
    assert text.strip()
    assert text.endswith("\n")
    for url in _visible_urls(html):
        assert url in text, url
    for line in text.splitlines():
        # Only lines that are a single unbreakable word (a URL) may be longer than 78.
        assert len(line) <= 78 or " " not in line.strip().removeprefix("- "), line
    # Nothing from <head>/<style>/comments leaks in, and fillers are gone.
    assert "<!--" not in text and "@media" not in text and "mso-" not in text
    assert "\u200c" not in text and "\ufeff" not in text


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_preheader_is_first_hidden_text_and_changes_nothing_else(path: Path) -> None:
    html = path.read_text(encoding="utf-8")
    injected = inject_preheader(html, PREHEADER)
    # Pure insertion: the template (and its Outlook conditional comments) is otherwise untouched.
    assert injected.replace(preheader_block(PREHEADER), "", 1) == html
    assert injected.count("<!--[if") == html.count("<!--[if")

    tree = LexborHTMLParser(injected)
    body = tree.body
    assert body is not None
    hidden = [
        n
        for n in body.traverse()
        if n.is_element_node and n.tag != "body" and _HIDDEN.search(n.attributes.get("style") or "")
    ]
    assert hidden, "no hidden elements at all"
    assert hidden[0].text() == PREHEADER
    assert "mso-hide:all" in (hidden[0].attributes.get("style") or "")
    # It is also the first element of the body: nothing visible comes before it.
    first = next(n for n in body.iter() if n.is_element_node)
    assert first.text() == PREHEADER
    # Invisible in the text alternative.
    assert html_to_text(injected) == html_to_text(html)
