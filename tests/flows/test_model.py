"""The flow definition: JSON and YAML in, the published JSON Schema, structural findings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.flows.conftest import EXAMPLES

from mailcard.flows import flow_json_schema
from mailcard.flows.parse import load_definition, parse_definition

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = {
    "id": "welcome",
    "name": "Welcome",
    "trigger": {"event": "customer.created"},
    "blocks": [
        {
            "id": "hello",
            "type": "send_email",
            "to": "{{ customer.email }}",
            "from": "客服团队 <support@company.com>",
            "subject": "Добро пожаловать",
            "text": "Здравствуйте, {{ customer.firstName }}!",
        }
    ],
}


def test_the_shipped_schema_is_the_generated_one() -> None:
    shipped = json.loads((ROOT / "docs" / "flow.schema.json").read_text("utf-8"))
    assert shipped == flow_json_schema(), "regenerate: mailcard flow schema > docs/flow.schema.json"


def test_schema_describes_every_block_type_and_the_from_field() -> None:
    schema = flow_json_schema()
    kinds = {
        d["properties"]["type"]["const"]
        for d in schema["$defs"].values()
        if "type" in d.get("properties", {})
    }
    assert kinds == {"send_email", "condition", "delay", "set_variable", "notify_agent", "end"}
    assert "from" in schema["$defs"]["SendEmailBlock"]["required"]


def test_json_and_yaml_give_the_same_definition() -> None:
    from_json, _ = load_definition(json.dumps(MINIMAL, ensure_ascii=False), filename="f.json")
    import yaml

    from_yaml, _ = load_definition(yaml.safe_dump(MINIMAL, allow_unicode=True), filename="f.yaml")
    assert from_json is not None and from_json == from_yaml
    assert from_json.stored_form()["blocks"][0]["from"] == "客服团队 <support@company.com>"


def test_every_structural_problem_is_reported_with_its_block() -> None:
    broken = {
        "id": "broken",
        "name": "Broken",
        "trigger": {"event": "order.created"},
        "blocks": [
            {
                "id": "mail",
                "type": "send_email",
                "to": "a@example.com",
                "from": "b@example.com",
                "subject": "x",
            },
            {"id": "wait", "type": "delay", "sekonds": 3},
            {"id": "what", "type": "teleport"},
        ],
    }
    definition, findings = parse_definition(broken)
    assert definition is None
    by_block = {f.block_id: f.message for f in findings}
    assert "text or an html body" in by_block["mail"]
    assert "sekonds" in by_block["wait"]
    assert "teleport" in by_block["what"]


def test_unreadable_yaml_is_one_clear_finding() -> None:
    definition, [finding] = load_definition("id: [unclosed", filename="f.yaml")
    assert definition is None and finding.code == "definition_unreadable"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_examples_parse(path: Path) -> None:
    definition, findings = load_definition(path.read_text("utf-8"), filename=path.name)
    assert definition is not None, findings


def _with_delay(**wait: object) -> dict[str, object]:
    delay = {"id": "wait", "type": "delay", **wait, "next": "hello"}
    return MINIMAL | {"start": "wait", "blocks": [delay, *MINIMAL["blocks"]]}  # type: ignore[list-item]


@pytest.mark.parametrize("wait", [{"days": 10_000_000_000}, {"hours": 8785}, {"days": float("inf")}])
def test_a_delay_over_a_year_is_a_finding_not_a_crash_later(wait: dict[str, object]) -> None:
    definition, findings = parse_definition(_with_delay(**wait))
    assert definition is None
    assert [f.block_id for f in findings] == ["wait"]


def test_a_delay_of_a_year_is_fine() -> None:
    definition, findings = parse_definition(_with_delay(days=366))
    assert findings == [] and definition is not None


@pytest.mark.parametrize(
    ("text", "filename", "says"),
    [
        ("[" * 100_000, "flow.json", "nested too deeply"),
        ("[" * 100_000, "flow.yaml", "nested too deeply"),
        # A YAML alias inside its own anchor: the data contains itself.
        (
            "id: f\nname: f\ntrigger: {event: a.b, sample: &s {a: *s}}\nblocks: []\n",
            "flow.yaml",
            "contains itself",
        ),
        # "Billion laughs": nine levels of ten aliases each.
        (
            "id: f\nname: f\ntrigger: {event: a.b}\nblocks: []\nx0: &x0 [a, a, a, a, a, a, a, a, a, a]\n"
            + "".join(f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 10)}]\n" for i in range(1, 9)),
            "flow.yaml",
            "expands to more than",
        ),
        (
            '{"id": "f", "name": "\\ud800", "trigger": {"event": "a.b"}, "blocks": []}',
            "flow.json",
            "lone surrogate",
        ),
    ],
)
def test_hostile_documents_are_one_clear_finding(text: str, filename: str, says: str) -> None:
    definition, findings = load_definition(text, filename=filename)
    assert definition is None
    assert len(findings) == 1 and says in findings[0].message
