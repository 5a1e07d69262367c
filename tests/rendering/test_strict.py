"""Strict mode (previews, activation) and find_unresolved (lint)."""

from __future__ import annotations

import pytest

from mailcard.errors import UnresolvedVariableError
from mailcard.rendering import RenderOptions, TemplateEngine, UnresolvedVariable

ENGINE = TemplateEngine()
STRICT = RenderOptions(strict_variables=True, autoescape=None)
CONTEXT = {
    "customer": {"firstName": "Мария", "lastName": "Иванова", "vip": True, "discount": 5},
    "order": {"number": "5512", "items": [{"name": "Чай"}]},
}


def test_unresolved_attribute_names_path_line_and_suggestion() -> None:
    source = "Здравствуйте!\n\n{{ customer.firstNmae }}, спасибо за заказ"
    with pytest.raises(UnresolvedVariableError) as info:
        ENGINE.render(source, CONTEXT, STRICT)
    error = info.value
    assert (
        error.message == "unresolved variable customer.firstNmae at line 3; did you mean customer.firstName?"
    )
    assert (error.line, error.column) == (3, 4)
    assert error.code == "unresolved_variable"


def test_unresolved_top_level_variable_suggests_a_context_key() -> None:
    with pytest.raises(UnresolvedVariableError) as info:
        ENGINE.render("Dear {{ custmer.firstName }}", CONTEXT, STRICT)
    assert info.value.message == "unresolved variable custmer at line 1; did you mean customer?"


def test_attribute_of_null_says_so() -> None:
    with pytest.raises(UnresolvedVariableError) as info:
        ENGINE.render("{{ order.manager.name }}", {"order": {"manager": None}}, STRICT)
    assert "order.manager.name" in info.value.message
    assert "order.manager is null" in info.value.message


def test_strict_mode_allows_guarded_access() -> None:
    source = (
        "{{ customer.middleName|default('—') }} {{ customer.middleName ?? '—' }} "
        "{{ customer.middleName is defined ? 'yes' : 'no' }}"
    )
    assert ENGINE.render(source, CONTEXT, STRICT) == "— — no"


def test_non_strict_mode_renders_missing_as_empty() -> None:
    assert ENGINE.render("[{{ customer.firstNmae }}]", CONTEXT, RenderOptions(autoescape=None)) == "[]"


def test_find_unresolved_reports_every_path_with_positions() -> None:
    source = (
        "{{ customer.firstNmae }}\n"
        "{% for item in order.itms %}{{ item.name }}{% endfor %}\n"
        "{{ order.number }} {{ manager.name|default('команда') }} {{ site.url }}\n"
        "{{ order.items[0].nmae }}"
    )
    found = ENGINE.find_unresolved(source, CONTEXT)
    assert found == [
        UnresolvedVariable("customer.firstNmae", 1, 4, "customer.firstName"),
        UnresolvedVariable("order.itms", 2, 16, "order.items"),
        UnresolvedVariable("site", 3, 61, None),
        UnresolvedVariable("order.items[0].nmae", 4, 4, "order.items[0].name"),
    ]


def test_find_unresolved_is_empty_for_a_good_template() -> None:
    source = "{{ customer.firstName }} {% for i in order.items %}{{ i.name }}{% endfor %}"
    assert ENGINE.find_unresolved(source, CONTEXT) == []


@pytest.mark.parametrize(
    ("source", "path"),
    [
        ("{{ user.name }}", "user"),
        ("{{ order.items[3].name }}", "order.items[3]"),
        ("客户：{{ customer.lastname }}", "customer.lastname"),
    ],
)
def test_strict_paths_in_several_shapes(source: str, path: str) -> None:
    with pytest.raises(UnresolvedVariableError) as info:
        ENGINE.render(source, CONTEXT, STRICT)
    assert info.value.message.startswith(f"unresolved variable {path} at line 1")


def test_find_unresolved_also_checks_branches_the_context_does_not_enter() -> None:
    source = (
        "{% if customer.vip %}{{ customer.discount }}{% else %}{{ customer.bonsu }}{% endif %}\n"
        "{% for item in order.items %}{{ item.nmae }}{% endfor %}\n"
        "{% if customer.middleName is defined %}{{ customer.middleName }}{% endif %}"
    )
    found = ENGINE.find_unresolved(source, CONTEXT)
    assert [(item.path, item.line, item.suggestion) for item in found] == [
        ("customer.bonsu", 1, None),
        ("item.nmae", 2, "item.name"),
    ]
