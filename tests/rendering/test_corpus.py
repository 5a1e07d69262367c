"""The Twig compatibility corpus: every case rendered, pass rate reported, ≥ 97 % required."""

from __future__ import annotations

from typing import Any

from tests.support.corpora import load_jsonl

from mailcard.errors import TemplateError
from mailcard.rendering import TemplateEngine
from mailcard.rendering.batch import options_from_config

REQUIRED_PASS_RATE = 0.97


def render_case(engine: TemplateEngine, case: dict[str, Any]) -> str:
    options = options_from_config(case["config"])
    try:
        return engine.render(case["template"], case["context"], options, name=case["id"])
    except TemplateError as exc:
        return f"<error: {exc}>"


def matches(case: dict[str, Any], output: str) -> bool:
    if case["compare"] == "trim":
        return bool(output.strip() == case["expected"].strip())
    return bool(output == case["expected"])


def test_twig_corpus_pass_rate(engine: TemplateEngine) -> None:
    cases = load_jsonl("twig-dev.jsonl")
    assert len(cases) >= 400
    failures = []
    for case in cases:
        output = render_case(engine, case)
        if not matches(case, output):
            failures.append(f"{case['id']}: got {output[:120]!r}, expected {case['expected'][:120]!r}")
    rate = 1 - len(failures) / len(cases)
    print(f"\ntwig-dev corpus: {len(cases) - len(failures)}/{len(cases)} = {rate:.1%}")
    assert rate >= REQUIRED_PASS_RATE, "\n".join(failures)


def test_crm_cases_in_three_languages_all_pass(engine: TemplateEngine) -> None:
    cases = load_jsonl("twig-dev.jsonl")
    crm = [case for case in cases if case["id"].startswith("crm.")]
    languages = {case["id"].split(".")[1] for case in crm}
    assert {"ru", "en", "zh"} <= languages
    bad = [case["id"] for case in crm if not matches(case, render_case(engine, case))]
    assert bad == []
