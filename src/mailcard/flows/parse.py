"""Reading a flow definition from JSON or YAML text (or parsed data) into :class:`FlowDefinition`.

Every structural problem becomes a :class:`FlowFinding` located at its block, so ``flow validate``
reports all of them at once instead of the first.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from pydantic import ValidationError

from mailcard.flows.findings import FlowFinding
from mailcard.flows.model import FlowDefinition

__all__ = ["load_definition", "parse_definition"]


def load_definition(text: str, *, filename: str = "") -> tuple[FlowDefinition | None, list[FlowFinding]]:
    """Parse JSON (``.json``, or text starting with ``{``) or YAML text."""
    try:
        if filename.endswith(".json") or text.lstrip().startswith("{"):
            data = json.loads(text)
        else:
            data = yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        return None, [
            FlowFinding(
                "definition_unreadable",
                "error",
                f"The flow definition is not valid JSON or YAML: {exc}",
                hint="Check indentation and quotes; a value with ': ' or '{{' needs quotes in YAML.",
            )
        ]
    return parse_definition(data)


def parse_definition(data: Any) -> tuple[FlowDefinition | None, list[FlowFinding]]:
    if not isinstance(data, dict):
        return None, [
            FlowFinding("definition_invalid", "error", "A flow definition is an object (a mapping).")
        ]
    try:
        return FlowDefinition.model_validate(data), []
    except ValidationError as exc:
        return None, [_finding(error, data) for error in exc.errors(include_url=False, include_input=False)]


def _finding(error: Any, data: dict[str, Any]) -> FlowFinding:
    loc = tuple(error.get("loc", ()))
    block_id: str | None = None
    field_path = loc
    if len(loc) >= 2 and loc[0] == "blocks" and isinstance(loc[1], int):
        blocks = data.get("blocks")
        block: dict[str, Any] = {}
        if isinstance(blocks, list) and loc[1] < len(blocks) and isinstance(blocks[loc[1]], dict):
            block = blocks[loc[1]]
        found = block.get("id")
        block_id = str(found) if found is not None else f"#{loc[1] + 1}"
        # pydantic puts the union's tag (send_email, delay, ...) before the field name.
        field_path = loc[3:] if len(loc) > 2 and loc[2] == block.get("type") else loc[2:]
    where = ".".join(str(part) for part in field_path) or None
    message = str(error.get("msg", "invalid"))
    return FlowFinding(
        "definition_invalid",
        "error",
        f"{where}: {message}" if where else message,
        block_id=block_id,
        field=where,
    )
