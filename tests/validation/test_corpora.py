"""Every labelled corpus record as a test, plus a per-corpus pass-rate summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailcard.validation import ContentToCheck, check_content

from .conftest import benign_files, load_jsonl

MALICIOUS = load_jsonl("malicious-html.jsonl")
LINKS = load_jsonl("links.jsonl")
BENIGN = benign_files()


def _content_for_link(record: dict[str, Any]) -> ContentToCheck:
    value = record["url"]
    context = record["context"]
    if context == "url":
        return ContentToCheck(html=f'<a href="{value.replace(chr(34), "&quot;")}">link</a>', text="x")
    if context == "html":
        return ContentToCheck(html=value, text="x")
    if context == "text":
        return ContentToCheck(text=value)
    if context == "subject":
        return ContentToCheck(subject=value)
    assert context == "preheader", context
    return ContentToCheck(preheader=value)


def _is_flagged_shortened(record: dict[str, Any]) -> bool:
    report = check_content(_content_for_link(record))
    return any(f.code == "shortened_link" for f in report.findings)


@pytest.mark.parametrize("record", MALICIOUS, ids=[r["id"] for r in MALICIOUS])
def test_malicious_vector_is_blocked(record: dict[str, Any]) -> None:
    report = check_content(ContentToCheck(html=record["html"], text="plain"))
    assert report.verdict == "block", record["html"]
    assert all(f.code.startswith("unsafe_") for f in report.blocking)
    assert all(f.location is not None and f.location.part == "html" for f in report.blocking)


@pytest.mark.parametrize("path", BENIGN, ids=[p.name for p in BENIGN])
def test_benign_template_is_not_blocked(path: Path) -> None:
    report = check_content(
        ContentToCheck(html=path.read_text(encoding="utf-8"), text="plain", subject="Hello")
    )
    assert report.blocking == []
    assert report.verdict in ("ok", "warn")


@pytest.mark.parametrize("record", LINKS, ids=[r["id"] for r in LINKS])
def test_link_label(record: dict[str, Any]) -> None:
    assert _is_flagged_shortened(record) is record["shortened"], record["url"]


def test_pass_rates_per_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    blocked = sum(check_content(ContentToCheck(html=r["html"])).verdict == "block" for r in MALICIOUS)
    benign_ok = sum(
        not check_content(ContentToCheck(html=p.read_text(encoding="utf-8"))).blocking for p in BENIGN
    )
    links_ok = sum(_is_flagged_shortened(r) is r["shortened"] for r in LINKS)
    rates = {
        "malicious-html.jsonl blocked": (blocked, len(MALICIOUS)),
        "benign-html not blocked": (benign_ok, len(BENIGN)),
        "links.jsonl labels right": (links_ok, len(LINKS)),
    }
    with capsys.disabled():
        for name, (good, total) in rates.items():
            print(f"\n  {name}: {good}/{total} ({100 * good / total:.1f}%)", end="")
        print()
    assert (len(MALICIOUS), len(BENIGN), len(LINKS)) == (602, 36, 231)
    assert all(good == total for good, total in rates.values()), rates


def test_shortened_link_in_css_comment_warns_but_does_not_block() -> None:
    # neopolitan-invoice has "http://goo.gl/..." in a CSS comment: spam filters read it, clients don't run it.
    path = next(p for p in BENIGN if p.name == "sendwithus__neopolitan-invoice.html")
    report = check_content(ContentToCheck(html=path.read_text(encoding="utf-8"), text="x", subject="Invoice"))
    assert report.verdict == "warn"
    assert [f.code for f in report.findings] == ["shortened_link"]
