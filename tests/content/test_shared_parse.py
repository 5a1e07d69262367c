"""The composer parses the rendered HTML once, for validation and the text part: same text as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser
from tests.support.corpora import benign_files

from mailcard.content import html_to_text, inject_preheader
from mailcard.content.preheader import inject_preheader_keeping_tree, injection_keeps_tree
from mailcard.validation import ContentToCheck, check_content

CORPUS = benign_files()
PREHEADER = "Ваш заказ №123 отправлен <скидка> & more"


def _shared(html: str) -> tuple[str, bool]:
    """The composer's way: validate on one tree, then the text part from it when the preheader
    injection keeps it."""
    tree = LexborHTMLParser(html)
    check_content(ContentToCheck(subject="s", preheader=PREHEADER, html=html), html_tree=tree)
    keeps = injection_keeps_tree(html)
    return html_to_text(inject_preheader(html, PREHEADER), tree=tree if keeps else None), keeps


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_corpus_text_part_is_the_same_from_the_shared_tree(path: Path) -> None:
    html = path.read_text(encoding="utf-8")
    expected = html_to_text(inject_preheader(html, PREHEADER))
    text, _ = _shared(html)
    assert text == expected
    # And the shared tree itself gives the same text as a fresh parse of the injected HTML.
    tree = LexborHTMLParser(html)
    check_content(ContentToCheck(html=html), html_tree=tree)
    if injection_keeps_tree(html):
        assert html_to_text(html, tree=tree) == expected


def test_most_of_the_corpus_keeps_the_tree() -> None:
    kept = sum(injection_keeps_tree(p.read_text(encoding="utf-8")) for p in CORPUS)
    assert kept >= len(CORPUS) // 2, kept


@pytest.mark.parametrize(
    ("html", "keeps"),
    [
        ("<!doctype html><html><body><p>Hi</p></body></html>", True),
        (
            '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "x.dtd">\n'
            '<html xmlns="http://www.w3.org/1999/xhtml"><head><meta charset="utf-8" />'
            "<!--[if mso]><xml><o:X>1</o:X></xml><![endif]--><title>T</title>"
            '<style type="text/css">p{color:red}</style></head>\n<body style="margin:0"><p>Hi</p></body></html>',
            True,
        ),
        ("<p>fragment</p>", False),
        ("<html><head></head><p>no body tag</p></html>", False),
        ("<p>hello <body class=x> world</p>", False),  # the body exists before this tag
        ("<!--><p>text</p><!-- x --><body><p>b</p>", False),  # "<!-->" is a whole comment
        ('<meta x=a"><p>text<meta y="><body><p>b</p>', False),  # a quote inside an unquoted value
        ("<title></title x><p>t</title><body>b", False),
        ("<noscript><body></noscript>x", False),
        ("<head><script>1</script></head><body>b", False),
        ("</html><body><p>b</p>", False),
        ("<body\u00a0><p>b</p>", False),
    ],
)
def test_injection_keeps_tree(html: str, keeps: bool) -> None:
    assert injection_keeps_tree(html) is keeps
    text, _ = _shared(html)
    assert text == html_to_text(inject_preheader(html, PREHEADER))


@pytest.mark.parametrize("path", CORPUS[:10], ids=[p.stem for p in CORPUS[:10]])
@pytest.mark.parametrize("preheader", [PREHEADER, "  "])
def test_one_scan_injection_matches_the_two_functions(path: Path, preheader: str) -> None:
    html = path.read_text(encoding="utf-8")
    injected, keeps = inject_preheader_keeping_tree(html, preheader)
    assert injected == inject_preheader(html, preheader)
    assert keeps == (injected == html or injection_keeps_tree(html))
