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
from mailcard.textio import is_unicode

__all__ = ["load_definition", "parse_definition"]


# A definition is a few dozen blocks; YAML aliases can make a short text stand for an enormous
# (or endless) one, which validating and storing would expand.
MAX_DEFINITION_NODES = 20_000


def load_definition(text: str, *, filename: str = "") -> tuple[FlowDefinition | None, list[FlowFinding]]:
    """Parse JSON (``.json``, or text starting with ``{``) or YAML text."""
    try:
        if filename.endswith(".json") or text.lstrip().startswith("{"):
            data = json.loads(text)
        else:
            data = yaml.safe_load(text)
    except RecursionError:
        return None, [
            FlowFinding("definition_unreadable", "error", "The flow definition is nested too deeply.")
        ]
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
    problem = _not_plain_data(data)
    if problem is not None:
        return None, [FlowFinding("definition_invalid", "error", problem)]
    try:
        return FlowDefinition.model_validate(data), []
    except ValidationError as exc:
        return None, [_finding(error, data) for error in exc.errors(include_url=False, include_input=False)]


def _not_plain_data(data: Any) -> str | None:
    """Why ``data`` cannot be a definition's data (None when it can): expanded, it holds too many
    values (YAML aliases of aliases, or an alias inside its own anchor, which never ends), or text
    that is not Unicode (a lone surrogate, which no UTF-8 can store)."""
    budget = MAX_DEFINITION_NODES
    stack: list[Any] = [data]  # iterative: the data may nest deeper than Python's recursion limit
    while stack:
        item = stack.pop()
        budget -= 1
        if budget < 0:
            return (
                f"The flow definition expands to more than {MAX_DEFINITION_NODES} values "
                "(YAML aliases of aliases, or a YAML alias that contains itself)."
            )
        if isinstance(item, str):
            if not is_unicode(item):
                return "The flow definition holds text that is not valid Unicode (a lone surrogate)."
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


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
