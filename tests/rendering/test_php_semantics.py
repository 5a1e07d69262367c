"""PHP semantics that real templates meet and Jinja-like engines get wrong, pinned to what real
Twig 3.5 on PHP 8.2 printed for each (tests/rendering/test_twig_reference.py checks hundreds more
against Twig itself in every run)."""

from __future__ import annotations

from typing import Any

import pytest

from mailcard.rendering import TemplateEngine
from mailcard.rendering.batch import options_from_config

CASES = [
    pytest.param(
        "{% set zero %}0{% endset %}{% set empty %}{% endset %}{{ zero ? 'y' : 'n' }}{{ empty ? 'y' : 'n' }}{{ zero|default('D') }}",
        {},
        {"autoescape": "html"},
        "yn0",
        id="markup",
    ),  # a captured block is a Markup object: truthy even when it holds '0'; an empty capture is ''
    pytest.param(
        "{{ 'ÉLAN' matches '/élan/i' ? 'y' : 'n' }}{{ 'ÉLAN' matches '/élan/iu' ? 'y' : 'n' }}{{ 'élan' matches '/^.{4}$/' ? 'y' : 'n' }}{{ 'Привет' matches '/^[а-я]+$/iu' ? 'y' : 'n' }}",
        {},
        {"autoescape": False},
        "nyny",
        id="pcre",
    ),  # without /u PCRE matches bytes: ASCII-only case folding, '.' is one byte
    pytest.param(
        "{{ '2026-03-29 02:30'|date('H:i T') }}|{{ '2026-10-25 02:30'|date('H:i T') }}|{{ '2026-10-25 01:30'|date_modify('+1 hour')|date('H:i T') }}|{{ '2026-03-28 12:00'|date_modify('+24 hours')|date('d H:i T') }}",
        {},
        {"autoescape": False, "timezone": "Europe/Berlin"},
        "03:30 CEST|02:30 CET|02:30 CEST|29 12:00 CEST",
        id="dst",
    ),  # a missing time moves on by the gap, a doubled one is winter time when parsed and keeps its DST state when modified; hours count on the wall clock
    pytest.param(
        "{{ '2026-01-31'|date_modify('last day of next month')|date('Y-m-d') }}|{{ '2026-11-20 14:05'|date_modify('first monday of next month')|date('Y-m-d H:i') }}|{{ '2026-01-31'|date_modify('last day of february')|date('Y-m-d') }}",
        {},
        {"autoescape": False},
        "2026-02-28|2026-12-07 00:00|2026-02-28",
        id="dayof",
    ),  # first/last day of and first <weekday> of: counted in the month after the move, weekday ones at midnight
    pytest.param(
        "{{ '2026-11-20T14:05:00+03:00'|date('e T', false) }}|{{ 86400|date('e T', false) }}|{{ '2026-11-20T14:05:00Z'|date('e T', false) }}",
        {},
        {"autoescape": False},
        "+03:00 GMT+0300|+00:00 GMT+0000|Z Z",
        id="zones",
    ),  # offsets print as +03:00 and GMT+0300, timestamps as +00:00, Z as Z
    pytest.param(
        "{{ [1500.0, 0.5, price]|json_encode }}|{{ price|json_encode(constant('JSON_PRESERVE_ZERO_FRACTION')) }}",
        {"price": 990.0},
        {"autoescape": False},
        "[1500,0.5,990]|990.0",
        id="json",
    ),  # json_encode drops a zero fraction unless JSON_PRESERVE_ZERO_FRACTION
    pytest.param(
        "[{{ '%-10s'|format('Итого') }}][{{ '%-10s'|format('Total') }}][{{ '%.2s'|format('Итого') }}]",
        {},
        {"autoescape": False},
        "[Итого][Total     ][И]",
        id="format",
    ),  # sprintf widths and precisions count bytes
    pytest.param(
        '{{ "o\'neil jean-luc 1st 尊敬的vip ß"|title }}',
        {},
        {"autoescape": False},
        "O'neil Jean-Luc 1St 尊敬的Vip Ss",
        id="title",
    ),  # mb_convert_case title: after a cased letter (apostrophes ignored) lower, else title-case
    pytest.param(
        "{{ note|nl2br }}",
        {"note": "A & <b>\nB"},
        {"autoescape": False},
        "A &amp; &lt;b&gt;<br />\nB",
        id="nl2br",
    ),  # nl2br escapes its input even with autoescape off
    pytest.param(
        "<title>{% block subject %}№{{ n }} & {{ s }}{% endblock %}</title><h1>{{ block('subject') }}</h1>",
        {"n": "A-1", "s": "<new>"},
        {"autoescape": "html"},
        "<title>№A-1 & &lt;new&gt;</title><h1>№A-1 & &lt;new&gt;</h1>",
        id="block",
    ),  # block() renders a block of the template again, already escaped
    pytest.param(
        "{% for i in [] %}{% else %}{{ loop.index }}/{{ loop.length }}/{{ loop.last ? 'l' : 'n' }}{% endfor %}",
        {},
        {"autoescape": False},
        "1/0/n",
        id="forelse",
    ),  # the else part of an empty for sees a loop variable
    pytest.param(
        "{{ (0.1 + 0.2)|number_format(20) }}|{{ 1.955|round(2) }}|{{ 6425.000000000001|round(12) }}",
        {},
        {"autoescape": False},
        "0.30000000000000004441|1.96|6425",
        id="round",
    ),  # PHP pre-rounds to 15 digits, and leaves values alone beyond a double's precision
]


@pytest.mark.parametrize(("template", "context", "config", "twig_output"), CASES)
def test_renders_as_twig(
    engine: TemplateEngine, template: str, context: dict[str, Any], config: dict[str, Any], twig_output: str
) -> None:
    assert engine.render(template, context, options_from_config(config)) == twig_output
