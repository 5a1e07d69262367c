"""Bad templates and odd data end in a clear template error, never in a crash.

Templates from both corpora are mutated at random (tags cut or doubled, stray punctuation, random
filter, function, test and operator expressions over odd values) with fixed seeds. Whatever comes
out must be an output or a ``MailcardError`` with a message: anything else would reach a user as a
traceback (the batch CLI would stop at that line).
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from tests.support.corpora import load_jsonl

from mailcard.errors import MailcardError
from mailcard.rendering import RenderOptions, TemplateEngine, library
from mailcard.rendering.batch import render_one

REFERENCE = Path(__file__).parent / "data" / "twig-reference.jsonl"
ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 1.5, math.nan, math.inf, -0.0, 10**30, 2**63, -(2**63) - 1, "", "0",
    "abc", "2026-13-45", "😀", " ", "1e400", "%s%d", "{{", "\x00", [], [1, "a", None], {"a": 1},
    {"": None, "0": [1]}, [[[]]],
]  # fmt: skip
OPERATORS = [
    "+", "-", "*", "/", "//", "%", "**", "~", "==", "<=>", "in", "not in", "and", "or", "b-and",
    "?:", "??", "starts with", "matches", "..", "is same as", "<", ">=",
]  # fmt: skip
LEAVES = [
    "x", "y", "z", "x.a", "y[0]", "x.0.1", "y.1E+1", "'s'", "3", "-2.5", "[1,2]", "{'k': 'v'}", "null",
    "true", "x|default('d')", "1..3", "'a' ~ x",
]  # fmt: skip
SNIPPETS = [
    "{{", "}}", "{%", "%}", "|", "(", ")", "[", "]", ",", "'", '"', "#{", "{#", "-", "~", " is ", " in ",
    "..", "?", ":", "\\", "\n", ".", "=>",
]  # fmt: skip


def corpus_templates() -> list[dict[str, Any]]:
    reference = REFERENCE.read_text(encoding="utf-8").splitlines()
    return load_jsonl("twig-dev.jsonl") + [json.loads(line) for line in reference if line.strip()]


class Mutator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def expression(self, depth: int = 0) -> str:
        rng = self.rng
        roll = rng.random()
        if depth > 2 or roll < 0.3:
            return rng.choice(LEAVES)
        if roll < 0.6:
            name = rng.choice(sorted(library.FILTERS))
            args = ", ".join(self.expression(depth + 1) for _ in range(rng.randint(0, 3)))
            return f"({self.expression(depth + 1)})|{name}" + (f"({args})" if args else "")
        if roll < 0.75:
            name = rng.choice(sorted(library.FUNCTIONS))
            args = ", ".join(self.expression(depth + 1) for _ in range(rng.randint(0, 3)))
            return f"{name}({args})"
        if roll < 0.85:
            negation = rng.choice(["", "not "])
            return f"({self.expression(depth + 1)}) is {negation}{rng.choice(sorted(library.TESTS))}"
        operator = rng.choice(OPERATORS)
        return f"({self.expression(depth + 1)}) {operator} ({self.expression(depth + 1)})"

    def template(self, source: str) -> str:
        rng = self.rng
        for _ in range(rng.randint(1, 3)):
            at = rng.randint(0, len(source))
            roll = rng.random()
            if roll < 0.25:
                source = source[:at] + source[at + rng.randint(1, 5) :]
            elif roll < 0.5:
                source = source[:at] + rng.choice(SNIPPETS) + source[at:]
            elif roll < 0.8:
                source = source[:at] + "{{ " + self.expression() + " }}" + source[at:]
            else:
                start = rng.randint(0, len(source))
                source = source[:at] + source[start : start + 20] + source[at:]
        return source

    def context(self, case: dict[str, Any]) -> dict[str, Any]:
        context = dict(case.get("context") or {})
        for name in ("x", "y", "z"):
            context[name] = self.rng.choice(ODD_VALUES)
        return context


@pytest.mark.parametrize("seed", range(4))
def test_mutated_templates_end_in_output_or_template_error(seed: int) -> None:
    cases = corpus_templates()
    mutator = Mutator(seed)
    engine = TemplateEngine()
    crashes: list[str] = []
    outcomes = {"output": 0, "error": 0}
    for _ in range(1500):
        case = mutator.rng.choice(cases)
        source = mutator.template(case["template"])
        context = mutator.context(case)
        options = RenderOptions(
            autoescape=mutator.rng.choice([None, "html"]), strict_variables=mutator.rng.random() < 0.3
        )
        try:
            engine.render(source, context, options)
            outcomes["output"] += 1
        except MailcardError as error:
            assert error.message, source
            outcomes["error"] += 1
        except Exception as error:  # any other exception is the failure this test reports
            crashes.append(f"{type(error).__name__}: {error} <- {source!r} with {context!r}"[:500])
    assert not crashes, "\n".join(crashes[:5])
    # Both kinds of outcome occurred: the mutations reach the renderer, not only the parser.
    assert outcomes["output"] > 50 and outcomes["error"] > 50, outcomes


@pytest.mark.parametrize(
    "template",
    [
        "{{ 1.99.99E+3 }}",  # a number with an exponent after a dot
        "{{ x.0.1E+1 }}",
        "{{ x.1_0 }}",
    ],
)
def test_number_keys_after_a_dot_render_or_report(template: str) -> None:
    line = json.dumps({"id": "n", "template": template, "context": {"x": {"1": "one", "10": "ten"}}})
    result = json.loads(render_one(line))
    assert result["id"] == "n"
    assert "output" in result or result["error"]["message"]


@pytest.mark.parametrize("digits", [309, 5000])
def test_integer_literals_too_big_for_a_double_print_as_php_does(digits: int) -> None:
    # PHP reads them as floats, INF once past the largest double; Python's int() refuses over 4300
    # digits and float() of such an int overflows: both used to crash the compiler.
    assert TemplateEngine().render("{{ " + "9" * digits + " }}", {}, RenderOptions()) == "INF"


@pytest.mark.timeout(60)  # a hang guard: this took minutes and gigabytes when node texts were whole
@pytest.mark.parametrize("operator", ["and", "+", "~"])
def test_a_huge_flat_expression_is_refused_without_hanging(operator: str) -> None:
    source = "{{ " + f" {operator} ".join(["1"] * 50_000) + " }}"
    with pytest.raises(MailcardError, match="too complex"):
        TemplateEngine().render(source, {}, RenderOptions())
