"""Sandbox: templates see plain data only, and runaway templates stop with TemplateLimitError."""

from __future__ import annotations

from typing import Any

import pytest

from mailcard.errors import TemplateError, TemplateLimitError, TemplateRuntimeError, TemplateSyntaxError
from mailcard.rendering import RenderLimits, RenderOptions, TemplateEngine

ENGINE = TemplateEngine(limits=RenderLimits(max_output_bytes=100_000, max_loop_steps=10_000, max_seconds=2.0))
SECRET = "s3cr3t-value"


class Sneaky:
    """A Python object in the context must stay opaque: no attributes, no methods."""

    api_key = SECRET

    def __str__(self) -> str:
        return SECRET


def render(source: str, context: dict[str, Any] | None = None, **options: Any) -> str:
    options.setdefault("autoescape", "html")
    return ENGINE.render(source, context or {}, RenderOptions(**options))


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__ }}",
        "{{ x.__init__ }}",
        "{{ x.__class__.__init__.__globals__ }}",
        "{{ x['__dict__'] }}",
        "{{ attribute(x, '__class__') }}",
        "{{ [].__class__ }}",
        "{{ _context }}",
    ],
)
def test_python_internals_render_empty(source: str) -> None:
    assert render(source, {"x": {"a": 1}}) == ""


def test_python_internals_in_strict_mode_are_clear_errors() -> None:
    with pytest.raises(TemplateError) as info:
        render("{{ ''.__class__ }}", strict_variables=True)
    assert "__class__" in info.value.message
    assert info.value.line == 1


def test_self_is_only_the_template_name() -> None:
    assert (
        ENGINE.render("{{ _self }}|{{ _self.__class__ }}", {}, RenderOptions(), name="welcome") == "welcome|"
    )


@pytest.mark.parametrize(
    "source",
    [
        "{{ constant('PHP_VERSION') }}",
        "{{ constant('PHP_OS') }}",
        "{{ constant('__DIR__') }}",
        "{{ constant('DATABASE_URL') }}",
        "{{ constant('JSON_PRETTY_PRINT', customer) }}",  # a class constant of an object
        "{{ 1 is constant('PHP_VERSION') ? 'y' }}",
    ],
)
def test_constant_reaches_nothing_about_the_server(source: str) -> None:
    with pytest.raises(TemplateRuntimeError, match="constant"):
        render(source, {"customer": Sneaky()})


def test_constant_knows_json_flags_and_a_few_formatting_constants() -> None:
    data = {"name": "Ёлка", "url": "https://x.io/a"}
    flags = "constant('JSON_UNESCAPED_UNICODE') b-or constant('JSON_UNESCAPED_SLASHES')"
    assert render("{{ data|json_encode(" + flags + ")|raw }}", {"data": data}) == (
        '{"name":"Ёлка","url":"https://x.io/a"}'
    )
    assert render("{{ constant('PHP_INT_MAX') }}|{{ 'a' ~ constant('PHP_EOL') ~ 'b' }}") == (
        "9223372036854775807|a\nb"
    )
    assert render("{{ 9223372036854775807 is constant('PHP_INT_MAX') ? 'max' : 'no' }}") == "max"


def test_method_calls_and_template_loading_are_refused() -> None:
    with pytest.raises(TemplateSyntaxError, match="methods"):
        render("{{ name.upper() }}", {"name": "x"})
    for source in ("{% include 'x.twig' %}", "{% extends 'base.twig' %}", "{% import 'forms.twig' as f %}"):
        with pytest.raises(TemplateSyntaxError):
            render(source)
    with pytest.raises(TemplateSyntaxError, match="unknown"):
        render("{{ source('/etc/passwd') }}")


def test_python_objects_in_the_context_stay_opaque() -> None:
    context = {"obj": Sneaky()}
    assert render("{{ obj.api_key }}{{ obj['api_key'] }}{{ attribute(obj, 'api_key') }}", context) == ""
    with pytest.raises(TemplateRuntimeError) as info:
        render("{{ obj }}", context)
    assert SECRET not in str(info.value)


def test_arrow_functions_do_not_expose_python_functions() -> None:
    assert render("{% set f = (x) => x %}{{ f.__globals__ }}{{ f.__code__ }}") == ""
    with pytest.raises(TemplateRuntimeError):
        render("{% set f = (x) => x %}{{ f }}")


def test_huge_loop_hits_the_step_limit() -> None:
    with pytest.raises(TemplateLimitError, match="loop steps") as info:
        render("{% for i in 1..1000000000 %}{{ i }}{% endfor %}")
    assert info.value.line == 1


def test_nested_loops_hit_the_step_limit() -> None:
    with pytest.raises(TemplateLimitError, match="loop steps"):
        render("{% for a in 1..1000 %}{% for b in 1..1000 %}.{% endfor %}{% endfor %}")


def test_output_size_bomb_is_stopped() -> None:
    with pytest.raises(TemplateLimitError, match="larger than"):
        render("{% set s = 'xxxxxxxxxx' %}{% for i in 1..40 %}{% set s = s ~ s %}{% endfor %}{{ s }}")
    with pytest.raises(TemplateLimitError, match="larger than"):
        render("{% for i in 1..5000 %}{{ 'a line of text that repeats' }}{% endfor %}")


def test_list_doubling_is_stopped() -> None:
    with pytest.raises(TemplateLimitError):
        render("{% set l = [1] %}{% for i in 1..40 %}{% set l = l|merge(l) %}{% endfor %}{{ l|length }}")


def test_power_does_not_build_giant_integers() -> None:
    assert render("{{ 9 ** 9 ** 9 }}", autoescape=None) == "INF"


def test_deep_macro_recursion_is_a_clear_error() -> None:
    source = (
        "{% macro down(n) %}{% import _self as m %}{{ m.down(n + 1) }}{% endmacro %}"
        "{% import _self as m %}{{ m.down(0) }}"
    )
    with pytest.raises(TemplateLimitError, match="nested more than"):
        render(source)


def test_deeply_nested_expressions_are_a_syntax_error_not_a_crash() -> None:
    with pytest.raises(TemplateSyntaxError):
        render("{{ " + "(" * 500 + "1" + ")" * 500 + " }}")
    with pytest.raises(TemplateSyntaxError):
        render("{% if 1 %}" * 200 + "x" + "{% endif %}" * 200)


def test_catastrophic_regex_is_bounded_by_the_time_limit() -> None:
    engine = TemplateEngine(limits=RenderLimits(max_seconds=0.3))
    with pytest.raises(TemplateLimitError):
        engine.render("{{ s matches '/^(a|aa)+$/' ? 'y' : 'n' }}", {"s": "a" * 50 + "!"}, RenderOptions())


def test_context_is_not_mutated() -> None:
    context = {"total": 1, "items": [1, 2]}
    render(
        "{% set total = 5 %}{% for i in items %}{% set total = total + i %}{% endfor %}{{ total }}", context
    )
    assert context == {"total": 1, "items": [1, 2]}


def test_callables_from_the_context_are_never_called() -> None:
    calls: list[str] = []

    def side_effect(*args: Any) -> bool:
        calls.append("called")
        return True

    with pytest.raises(TemplateRuntimeError, match="arrow function"):
        render("{{ items|filter(f)|length }}", {"items": [1, 2], "f": side_effect})
    assert calls == []
