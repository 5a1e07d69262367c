"""Twig/PHP semantics that differ from Python and Jinja2: each test is a trap users would hit."""

from __future__ import annotations

from typing import Any

import pytest

from mailcard.errors import TemplateRuntimeError, TemplateSyntaxError
from mailcard.rendering import RenderOptions, TemplateEngine

ENGINE = TemplateEngine()


def render(source: str, context: dict[str, Any] | None = None, **options: Any) -> str:
    options.setdefault("autoescape", None)
    return ENGINE.render(source, context or {}, RenderOptions(**options))


# ----------------------------------------------------------------------------- truthiness, printing


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", "no"),
        ("", "no"),
        ("0.0", "yes"),
        (" ", "yes"),
        (0, "no"),
        (0.0, "no"),
        ([], "no"),
        ({}, "no"),
        (None, "no"),
    ],
)
def test_php_truthiness(value: Any, expected: str) -> None:
    assert render("{{ v ? 'yes' : 'no' }}", {"v": value}) == expected


def test_number_and_boolean_printing() -> None:
    context = {"a": 1500.0, "b": 1500.5, "c": 0.1, "t": True, "f": False, "n": None}
    assert render("{{ a }}|{{ b }}|{{ c }}|{{ t }}|{{ f }}|{{ n }}", context) == "1500|1500.5|0.1|1||"
    assert render("{{ 0.1 + 0.2 }} {{ 1 / 3 }} {{ 7 / 2 }} {{ 6 / 3 }}") == "0.3 0.33333333333333 3.5 2"
    assert render("{{ 1e20 }} {{ 2 ** 64 }}") == "1.0E+20 1.844674407371E+19"


def test_loose_comparison_php8() -> None:
    assert render("{{ '1' == 1 ? 'y' : 'n' }}{{ 0 == '' ? 'y' : 'n' }}{{ 'abc' == 0 ? 'y' : 'n' }}") == "ynn"
    assert (
        render(
            "{{ '1e1' == '10' ? 'y' : 'n' }}{{ null == false ? 'y' : 'n' }}"
            "{{ '1' is same as(1) ? 'y' : 'n' }}"
        )
        == "yyn"
    )
    assert render("{{ 10 > 9 }}{{ '10' > '9' }}{{ 'b' > 'a' }}{{ [1, 2] == [1, 2] }}") == "1111"


def test_arithmetic_like_php() -> None:
    assert render("{{ -7 % 3 }} {{ 7 % -3 }} {{ -7 // 2 }} {{ 7.5 // 2 }} {{ 2 ** -1 }}") == "-1 1 -4 3 0.5"
    assert render("{{ price * qty }}|{{ price + 1 }}", {"price": "100.50", "qty": "2"}) == "201|101.5"
    assert render("{{ -2 ** 2 }} {{ (-2) ** 2 }}") == "-4 4"


def test_non_numeric_arithmetic_is_a_located_error() -> None:
    with pytest.raises(TemplateRuntimeError) as info:
        render("line one\n{{ name + 1 }}", {"name": "Anna"})
    assert info.value.line == 2
    assert "not a number" in info.value.message


def test_division_by_zero_is_a_located_error() -> None:
    with pytest.raises(TemplateRuntimeError) as info:
        render("{{ total / count }}", {"total": 10, "count": 0})
    assert (info.value.line, info.value.column) == (1, 10)


def test_rounding_half_away_from_zero_and_number_format() -> None:
    assert (
        render("{{ 2.5|round }} {{ (-0.5)|round }} {{ 1.25|round(1) }} {{ 2.1234|round(2, 'floor') }}")
        == "3 -1 1.3 2.12"
    )
    assert render(
        "{{ 0.125|number_format(2) }} {{ 1.005|number_format(2) }} {{ 2.675|number_format(2) }}"
    ) == ("0.13 1.01 2.68")
    assert (
        render("{{ 1234567.891|number_format(2, ',', ' ') }} {{ (-0.001)|number_format(2) }}")
        == "1 234 567,89 0.00"
    )


# ----------------------------------------------------------------------------- operators


def test_null_coalescing_elvis_and_default() -> None:
    context = {"code": "0", "empty": ""}
    assert (
        render("[{{ code ?: 'no' }}][{{ code|default('no') }}][{{ code ?? 'no' }}]", context) == "[no][0][0]"
    )
    assert (
        render("[{{ empty ?? 'x' }}][{{ empty|default('x') }}][{{ missing ?? 'x' }}]", context) == "[][x][x]"
    )
    assert render("{{ a.b.c ?? 'deep' }}", {"a": {}}, strict_variables=True) == "deep"


def test_string_tests_and_matches() -> None:
    assert (
        render("{{ '+79161234567' starts with '+7' ? 'ru' }}{{ 'file.pdf' ends with '.pdf' ? ' pdf' }}")
        == "ru pdf"
    )
    assert render("{{ 'AB-123' matches '/^[a-z]{2}-\\\\d+$/i' ? 'ok' : 'ko' }}") == "ok"
    assert (
        render("{{ 'x' matches '#^X$#i' ? 'ok' : 'ko' }} {{ 'Ёлка' matches '/^\\\\p{Lu}/u' ? 'ok' : 'ko' }}")
        == "ok ok"
    )


def test_ranges_interpolation_and_in() -> None:
    assert (
        render("{{ (1..5)|join(',') }} {{ ('a'..'e')|join }} {{ range(10, 0, 5)|join(',') }}")
        == "1,2,3,4,5 abcde 10,5,0"
    )
    assert render('{{ "Hello #{name|upper}, #{1 + 2}!" }}', {"name": "ann"}) == "Hello ANN, 3!"
    assert (
        render(
            "{{ 'vip' in tags ? 'y' }}{{ 'b' not in 'abc' ? 'n' : 'y' }}{{ 0 in ['', 1] ? 'bad' }}",
            {"tags": ["vip"]},
        )
        == "yy"
    )


def test_tests() -> None:
    template = (
        "{{ '' is empty }}{{ '0' is empty }}{{ [] is empty }}{{ x is defined }}{{ y is defined }}"
        "{{ n is null }}{{ n is none }}{{ 10 is divisible by(5) }}{{ 3 is odd }}{{ 4 is even }}"
        "{{ [1] is iterable }}{{ 'abc' is iterable }}"
    )
    # '0' is not empty, y is undefined, a string is not iterable: those print ''.
    assert render(template, {"x": None, "n": None}) == "111111111"


# ----------------------------------------------------------------------------- tags and scoping


def test_set_inside_for_updates_outer_variable_but_loop_variable_is_restored() -> None:
    template = (
        "{% set total = 0 %}{% set item = 'outer' %}"
        "{% for item in [1, 2, 3] %}{% set total = total + item %}{% set inner = 1 %}{% endfor %}"
        "{{ total }} {{ item }} {{ inner is defined ? 'leaked' : 'gone' }}"
    )
    assert render(template) == "6 outer gone"


def test_loop_variables_and_else() -> None:
    template = (
        "{% for x in items %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}"
        "/{{ loop.first }}/{{ loop.last }}/{{ loop.length }};{% else %}empty{% endfor %}"
    )
    assert render(template, {"items": ["a", "b"]}) == "1/0/2/1/1//2;2/1/1/0//1/2;"
    assert render(template, {"items": []}) == "empty"
    assert render("{% for k, v in {'a': 1, 'b': 2} %}{{ k }}={{ v }} {% endfor %}") == "a=1 b=2 "
    nested = "{% for a in [1, 2] %}{% for b in [1] %}{{ loop.parent.loop.index }}{% endfor %}{% endfor %}"
    assert render(nested) == "12"


def test_with_apply_capture_verbatim_spaceless() -> None:
    assert render("{% with {a: 1} %}{{ a }}{% endwith %}[{{ a }}]") == "1[]"
    assert render("{% apply upper %}hello {{ name }}{% endapply %}", {"name": "ann"}) == "HELLO ANN"
    assert render("{% set x %}<b>{{ 1 + 1 }}</b>{% endset %}{{ x }}", autoescape="html") == "<b>2</b>"
    assert render("{% verbatim %}{{ not rendered }}{% endverbatim %}") == "{{ not rendered }}"
    assert render("{% apply spaceless %}<p>  <b>x</b>  </p>{% endapply %}") == "<p><b>x</b></p>"


def test_macros() -> None:
    template = (
        "{% macro price(value, currency = '₽') %}"
        "{{ value|number_format(0, '', ' ') }} {{ currency }}{% endmacro %}"
        "{% import _self as m %}{% from _self import price as p %}"
        "{{ m.price(25000) }} / {{ p(10, currency='$') }}"
    )
    assert render(template) == "25 000 ₽ / 10 $"


def test_whitespace_control() -> None:
    assert render("a  {{- 'b' -}}  c") == "abc"
    assert render("a  {{~ 'b' ~}}  \n c") == "ab\n c"
    assert (
        render("<ul>\n  {% for i in [1] %}\n  <li>{{ i }}</li>\n  {% endfor %}\n</ul>")
        == "<ul>\n    <li>1</li>\n  </ul>"
    )
    assert render("{# comment #}\nx") == "x"


def test_filters_on_sequences() -> None:
    items = [{"name": "Tea", "price": 5}, {"name": "Mug", "price": 12}, {"name": "Spoon", "price": 2}]
    context = {"items": items}
    assert render("{{ items|filter(i => i.price > 4)|column('name')|join(', ') }}", context) == "Tea, Mug"
    assert render("{{ items|map((i, k) => k ~ ':' ~ i.name)|join(' ') }}", context) == "0:Tea 1:Mug 2:Spoon"
    assert render("{{ items|reduce((sum, i) => sum + i.price, 0) }}", context) == "19"
    assert (
        render("{{ items|sort((a, b) => a.price <=> b.price)|column('name')|join }}", context)
        == "SpoonTeaMug"
    )
    assert render("{{ ['bob', 'Alice', 'carl']|sort|join(',') }}") == "Alice,bob,carl"
    assert render(
        "{{ [1, 2, 3, 4, 5]|batch(2, 'x')|last|join }} {{ [1, 2, 3]|slice(1)|join }} "
        "{{ [1, 2]|merge([3])|join }}"
    ) == ("5x 23 123")
    assert (
        render("{{ {a: 1}|merge({b: 2})|keys|join }} {{ [3, 1]|first }}{{ [3, 1]|last }} {{ 'abc'|reverse }}")
        == "ab 31 cba"
    )
    assert (
        render("{{ ['a', 'b', 'c']|join(', ', ' and ') }} {{ 'a,b,c'|split(',', 2)|join('|') }}")
        == "a, b and c a|b,c"
    )


def test_string_filters_multilingual() -> None:
    assert (
        render("{{ 'ПЕТРОВА-ВОДКИНА'|lower|title }} {{ 'анна'|capitalize }} {{ 'éte'|upper }}")
        == "Петрова-Водкина Анна ÉTE"
    )
    assert (
        render("{{ s|length }} {{ s|slice(0, 2) }} {{ s[2:] }} {{ s|first }}", {"s": "你好世界"})
        == "4 你好 世界 你"
    )
    assert render(
        "{{ '<p>Hi <b>there</b></p>'|striptags }} {{ '  x  '|trim }}|{{ 'xxyxx'|trim('x', 'left') }}"
    ) == ("Hi there x|yxx")
    assert render(
        "{{ 'Hey %name%'|replace({'%name%': 'Ann'}) }} {{ '%s has %d pts (%.1f%%)'|format('Ann', 42, 7.5) }}"
    ) == ("Hey Ann Ann has 42 pts (7.5%)")


def test_encoding_filters() -> None:
    assert render("{{ data|json_encode }}", {"data": {"name": "Ёлка", "url": "https://x.io/a"}}) == (
        '{"name":"\\u0401\\u043b\\u043a\\u0430","url":"https:\\/\\/x.io\\/a"}'
    )
    assert render("{{ 'ВЕСНА 2024'|url_encode }} {{ {a: 1, b: 'x y'}|url_encode }}") == (
        "%D0%92%D0%95%D0%A1%D0%9D%D0%90%202024 a=1&b=x%20y"
    )
    assert render("{{ 'é <'|e('js') }} {{ 'a b'|e('url') }}") == "\\u00E9\\u0020\\u003C a%20b"


def test_dates_and_timezones() -> None:
    context = {"created": "2024-03-05T11:07:00+00:00", "ts": 1286199900, "day": "2024-01-15 12:00:00"}
    moscow = {"timezone": "Europe/Moscow"}
    assert render("{{ created|date('d.m.Y H:i') }}", context, **moscow) == "05.03.2024 14:07"
    assert (
        render("{{ ts|date('D, d M Y H:i:s P', 'America/Chicago') }}", context)
        == "Mon, 04 Oct 2010 08:45:00 -05:00"
    )
    assert (
        render("{{ day|date_modify('+30 days')|date('Y年m月d日') }}", context, timezone="Asia/Shanghai")
        == "2024年02月14日"
    )
    assert render(
        "{{ '2024-01-31'|date_modify('+1 month')|date('Y-m-d') }} {{ '2024-03-05'|date('jS F, l') }}"
    ) == ("2024-03-02 5th March, Tuesday")
    assert (
        render("{{ '05.03.2024'|date('Y-m-d') }} {{ 'March 5, 2024'|date('d/m/Y') }}")
        == "2024-03-05 05/03/2024"
    )
    assert render("{{ date('2024-03-05') < date('2024-03-06') ? 'before' }}") == "before"


def test_autoescape_html_and_raw() -> None:
    context = {"name": 'Tom & "Jerry" <O\'Neil>', "html": "<b>bold</b>"}
    assert (
        render("{{ name }}", context, autoescape="html") == "Tom &amp; &quot;Jerry&quot; &lt;O&#039;Neil&gt;"
    )
    assert render(
        "{{ html|raw }} {{ '<i>literal</i>' }} {{ '<i>' ~ name ~ '</i>' }}", context, autoescape="html"
    ) == ("<b>bold</b> <i>literal</i> &lt;i&gt;Tom &amp; &quot;Jerry&quot; &lt;O&#039;Neil&gt;&lt;/i&gt;")
    assert render("{{ name }}", context) == 'Tom & "Jerry" <O\'Neil>'
    assert render("{{ text|nl2br }}", {"text": "a<\nb"}, autoescape="html") == "a&lt;<br />\nb"
    assert (
        render("{% autoescape false %}{{ html }}{% endautoescape %}", context, autoescape="html")
        == "<b>bold</b>"
    )


def test_random_is_deterministic() -> None:
    template = "{{ random([1, 2, 3, 4, 5, 6, 7, 8]) }}{{ random(100) }}"
    assert render(template) == render(template)


def test_syntax_errors_have_line_and_column() -> None:
    with pytest.raises(TemplateSyntaxError) as info:
        render("line 1\n{% if x %}\n{{ foo|uper }}\n{% endif %}")
    assert (info.value.line, info.value.column) == (3, 8)
    assert 'did you mean "upper"' in info.value.message
    with pytest.raises(TemplateSyntaxError) as unclosed:
        render("{% for x in y %}never closed")
    assert "endfor" in unclosed.value.message


def test_compiled_templates_are_cached() -> None:
    engine = TemplateEngine()
    options = RenderOptions(autoescape=None)
    first = engine.compile("Hi {{ name }}", options)
    assert engine.compile("Hi {{ name }}", options) is first
    assert first.render({"name": "Ann"}) == "Hi Ann"
    assert engine.compile("Hi {{ name }}", RenderOptions(autoescape="html")) is not first
