"""JSON-lines rendering: one request per line in, one result per line out, in order.

Input line: ``{"id", "template", "context", "config"?: {"strict_variables", "autoescape",
"timezone", "date_format", "number_format"}}``. Output line: ``{"id", "output"}`` or
``{"id", "error": {"message", "line", "column"}}``. A line that is not valid JSON (or not a
request) gives an error object too; nothing here raises for bad input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from mailcard.errors import MailcardError, TemplateError
from mailcard.rendering.engine import RenderOptions, TemplateEngine
from mailcard.textio import is_unicode, json_text

__all__ = ["options_from_config", "render_jsonl"]

_ENGINE = TemplateEngine()


def options_from_config(config: Mapping[str, Any] | None) -> RenderOptions:
    """RenderOptions from a corpus/batch ``config`` object (raises ValueError when unusable)."""
    config = config or {}
    if not isinstance(config, Mapping):
        raise ValueError("config must be an object")
    autoescape = config.get("autoescape", "html")
    if autoescape in (False, None, "none", "false", ""):
        autoescape = None
    elif autoescape is True:
        autoescape = "html"
    kwargs: dict[str, Any] = {
        "autoescape": autoescape,
        "strict_variables": bool(config.get("strict_variables", False)),
        "timezone": str(config.get("timezone") or "UTC"),
    }
    date_format = config.get("date_format")
    if isinstance(date_format, str):
        kwargs["date_format"] = date_format
    elif isinstance(date_format, list) and date_format:
        kwargs["date_format"] = str(date_format[0])
        if len(date_format) > 1:
            kwargs["date_interval_format"] = str(date_format[1])
    number_format = config.get("number_format")
    if isinstance(number_format, list) and len(number_format) == 3:
        kwargs["number_format"] = (int(number_format[0]), str(number_format[1]), str(number_format[2]))
    return RenderOptions(**kwargs)


def _error(request_id: Any, message: str, line: int | None = None, column: int | None = None) -> str:
    return json_text({"id": request_id, "error": {"message": message, "line": line, "column": column}})


def render_one(line: str, engine: TemplateEngine = _ENGINE) -> str:
    if not is_unicode(line):
        return _error(None, "the line is not UTF-8 text")
    try:
        request = json.loads(line)
    except (ValueError, RecursionError) as exc:
        return _error(None, f"invalid JSON: {exc}")
    if not isinstance(request, dict):
        return _error(None, "each line must be a JSON object with id, template and context")
    request_id = request.get("id")
    template = request.get("template")
    if not isinstance(template, str):
        return _error(request_id, "template must be a string")
    context = request.get("context") or {}
    if not isinstance(context, dict):
        return _error(request_id, "context must be a JSON object")
    try:
        options = options_from_config(request.get("config"))
    except (ValueError, TypeError, OverflowError) as exc:
        return _error(request_id, f"invalid config: {exc}")
    try:
        output = engine.render(
            template, context, options, name=str(request_id) if request_id is not None else "template"
        )
    except TemplateError as exc:
        return _error(request_id, exc.message, exc.line, exc.column)
    except MailcardError as exc:
        return _error(request_id, exc.message)
    return json_text({"id": request_id, "output": output})


def render_jsonl(lines: Iterable[str], engine: TemplateEngine | None = None) -> Iterator[str]:
    """Render each JSON line; yields one JSON line (without newline) per non-blank input line."""
    for line in lines:
        if not line.strip():
            continue
        yield render_one(line, engine or _ENGINE)
