"""Previews never run script, in a real browser, whatever the HTML holds.

Every vector of the malicious corpus is shown in Chromium twice, and every link and button in it
clicked: as it is (the control: it proves the harness sees script run) and as ``preview_document``
wraps it. The wrapped documents must run nothing, including vectors the content checks would also
have blocked: the preview is the second line of defence. Benign templates must look the same
wrapped as bare.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.support.browser import ScriptWatch
from tests.support.corpora import benign_files, load_jsonl

from mailcard.content.preview import preview_document


@pytest.fixture(scope="module")
def vectors_that_run(chromium: ScriptWatch) -> list[dict[str, Any]]:
    """The control: the vectors whose script a browser runs when they are shown as they are."""
    return [
        vector for vector in load_jsonl("malicious-html.jsonl") if chromium.load(vector["html"], click=True)
    ]


def test_the_harness_sees_script_run(vectors_that_run: list[dict[str, Any]]) -> None:
    # 217-219 on an idle machine. The others need an old browser (CSS expression(), VBScript,
    # plugins, XBL), the network, or another kind of interaction (drag and drop, keyboard focus).
    # On a busy machine a few handlers (animations, media events) fire after the settle time.
    print(f"\n{len(vectors_that_run)} of 602 malicious vectors run script in Chromium when shown bare")
    assert len(vectors_that_run) >= 150


def test_no_vector_runs_in_a_preview_document(chromium: ScriptWatch) -> None:
    ran = {}
    for vector in load_jsonl("malicious-html.jsonl"):
        dialogs = chromium.load(preview_document(vector["html"]), click=True)
        if dialogs:
            ran[vector["id"]] = dialogs
    assert not ran


def test_text_only_previews_show_the_text_as_text(chromium: ScriptWatch) -> None:
    text = "Здравствуйте, <b>Анна</b>!\n<script>alert(1)</script> 您好"
    assert chromium.load(preview_document(None, text)) == []
    assert chromium.text() == text


def test_benign_templates_look_the_same_in_a_preview(chromium: ScriptWatch) -> None:
    for path in benign_files():
        source = path.read_text(encoding="utf-8")
        chromium.load(source)
        bare = chromium.text()
        mode = chromium.evaluate("document.compatMode")
        assert chromium.load(preview_document(source)) == [], path.name
        assert chromium.text() == bare, path.name
        assert chromium.evaluate("document.compatMode") == mode, path.name
