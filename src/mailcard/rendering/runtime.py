"""Per-render state and the helpers compiled templates call.

:class:`Runtime` carries the options (timezone, number/date defaults), the limits (loop steps,
output size, wall time, macro depth) and strict-mode bookkeeping of one render. The module-level
helpers are the only things generated code can reach: attribute access is a mapping/list lookup
(:func:`mailcard.rendering.values.lookup`), never ``getattr``, so no template can touch a Python
object's internals.
"""

from __future__ import annotations

import difflib
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mailcard.errors import TemplateLimitError, TemplateRuntimeError
from mailcard.rendering import values as v
from mailcard.rendering.values import MISSING, Markup, lookup, to_str

__all__ = ["Runtime", "RuntimeConfig", "Unresolved", "UnresolvedVariable"]

INTERNAL_PREFIX = "\x00"


@dataclass(frozen=True, slots=True)
class UnresolvedVariable:
    """One variable path the context does not have (see ``TemplateEngine.find_unresolved``)."""

    path: str
    line: int | None
    column: int | None
    suggestion: str | None = None


class Unresolved(Exception):
    """Raised inside a render for an unresolved variable; the engine adds the location."""

    def __init__(self, path: str, suggestion: str | None, reason: str | None = None) -> None:
        super().__init__(path)
        self.path = path
        self.suggestion = suggestion
        self.reason = reason


class RuntimeConfig:
    """Options and limits shared by every render of one compiled template."""

    __slots__ = (
        "date_format",
        "filename",
        "interval_format",
        "line_map",
        "max_chars",
        "max_macro_depth",
        "max_seconds",
        "max_steps",
        "name",
        "number_format",
        "random_seed",
        "strict",
        "timezone",
    )

    def __init__(
        self,
        *,
        name: str,
        strict: bool,
        timezone: str,
        date_format: str,
        interval_format: str,
        number_format: tuple[int, str, str],
        max_steps: int,
        max_chars: int,
        max_seconds: float,
        max_macro_depth: int,
        filename: str,
        line_map: Sequence[tuple[int, int]],
        random_seed: int = 0,
    ) -> None:
        self.name = name
        self.strict = strict
        self.timezone = timezone
        self.date_format = date_format
        self.interval_format = interval_format
        self.number_format = number_format
        self.max_steps = max_steps
        self.max_chars = max_chars
        self.max_seconds = max_seconds
        self.max_macro_depth = max_macro_depth
        self.filename = filename
        self.line_map = line_map
        self.random_seed = random_seed


class Runtime:
    """State of one render (kept small: one is made per render)."""

    __slots__ = ("_buffers", "_random", "cfg", "collect", "deadline", "macro_depth", "n", "next")

    def __init__(self, cfg: RuntimeConfig) -> None:
        self.cfg = cfg
        self.deadline = time.monotonic() + cfg.max_seconds
        self.n = 0
        self.next = 64 if cfg.max_steps > 64 else cfg.max_steps
        self.macro_depth = 0
        self.collect: list[UnresolvedVariable] | None = None
        self._random: random.Random | None = None
        self._buffers: dict[int, tuple[int, int]] | None = None

    @property
    def random(self) -> random.Random:
        # random() is deterministic per render: previews and sends must agree.
        if self._random is None:
            self._random = random.Random(self.cfg.random_seed)
        return self._random

    @property
    def timezone(self) -> str:
        return self.cfg.timezone

    @property
    def date_format(self) -> str:
        return self.cfg.date_format

    @property
    def number_format(self) -> tuple[int, str, str]:
        return self.cfg.number_format

    @property
    def max_steps(self) -> int:
        return self.cfg.max_steps

    @property
    def max_chars(self) -> int:
        return self.cfg.max_chars

    # ------------------------------------------------------------------------- limits

    def check(self, out: list[str]) -> None:
        """Called every few loop steps: step budget, wall time and output size."""
        cfg = self.cfg
        if self.n > cfg.max_steps:
            raise TemplateLimitError(
                f"the template ran more than {cfg.max_steps} loop steps",
                hint="loops over huge ranges are not allowed in e-mail templates",
            )
        if time.monotonic() > self.deadline:
            raise TemplateLimitError(f"the template took longer than {cfg.max_seconds:g} s to render")
        if self._buffers is None:
            self._buffers = {}
        key = id(out)
        index, total = self._buffers.get(key, (0, 0))
        if index > len(out):
            index, total = 0, 0
        for piece in out[index:]:
            total += len(piece)
        self._buffers[key] = (len(out), total)
        if total > cfg.max_chars:
            raise self.output_too_big()
        self.next = self.n + 64

    def charge(self, steps: int) -> None:
        """Count work done inside filters (map, filter, sort, range...) against the step budget."""
        self.n += steps
        if self.n > self.cfg.max_steps:
            raise TemplateLimitError(
                f"the template ran more than {self.cfg.max_steps} loop steps",
                hint="filters over huge sequences are not allowed in e-mail templates",
            )

    def output_too_big(self) -> TemplateLimitError:
        return TemplateLimitError(
            f"the template output is larger than {self.max_chars} bytes",
            hint="check loops and repeated concatenation",
        )

    def check_str(self, text: str) -> str:
        if len(text) > self.max_chars:
            raise self.output_too_big()
        return text

    # ------------------------------------------------------------------------- strict mode

    def position(self) -> tuple[int | None, int | None]:
        """Template position of the innermost generated frame on the current stack."""
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == self.cfg.filename:
                line = frame.f_lineno
                if line is not None and 0 < line <= len(self.cfg.line_map):
                    return self.cfg.line_map[line - 1]
                return None, None
            frame = frame.f_back  # type: ignore[assignment]
        return None, None

    def unresolved(self, path: str, suggestion: str | None, reason: str | None = None) -> Any:
        if self.collect is not None:
            line, column = self.position()
            self.collect.append(UnresolvedVariable(path, line, column, suggestion))
            return None
        raise Unresolved(path, suggestion, reason)


# ----------------------------------------------------------------------------- variable access


def _suggest(word: str, options: Any) -> str | None:
    keys = [
        str(key) for key in options if isinstance(key, str | int) and not str(key).startswith(INTERNAL_PREFIX)
    ]
    close = difflib.get_close_matches(str(word), keys, n=1, cutoff=0.6)
    return close[0] if close else None


def undefined_name(rt: Runtime, name: str, context: dict[str, Any]) -> Any:
    return rt.unresolved(name, _suggest(name, context))


def _join_path(prefix: str, key: Any, dot: bool) -> str:
    if dot:
        return f"{prefix}.{to_str(key)}"
    if isinstance(key, str):
        return f"{prefix}['{key}']"
    return f"{prefix}[{to_str(key)}]"


def getattr_plain(obj: Any, key: Any) -> Any:
    """``a.b`` when strict_variables is off: null for anything missing."""
    value = lookup(obj, key)
    return None if value is MISSING else value


def getattr_strict(rt: Runtime, obj: Any, key: Any, prefix: str, dot: bool) -> Any:
    value = lookup(obj, key)
    if value is not MISSING:
        return value
    path = _join_path(prefix, key, dot)
    if obj is None or obj is MISSING:
        if rt.collect is not None and any(item.path == prefix for item in rt.collect):
            return None  # the parent is already reported; its children add nothing
        return rt.unresolved(path, None, f"{prefix} is null")
    if v.is_array(obj):
        keys = [k for k, _ in v.array_items(obj)]
        close = _suggest(to_str(key), keys)
        return rt.unresolved(path, _join_path(prefix, close, dot) if close is not None else None)
    return rt.unresolved(path, None, f"{prefix} is not a mapping")


def getattr_defined(obj: Any, key: Any) -> Any:
    """Attribute access inside ``is defined``, ``??`` and ``default``: MISSING, never an error."""
    if obj is MISSING:
        return MISSING
    return lookup(obj, key)


# ----------------------------------------------------------------------------- expressions


def concat(rt: Runtime, left: Any, right: Any) -> str:
    a = left if type(left) is str else to_str(left)
    b = right if type(right) is str else to_str(right)
    if len(a) + len(b) > rt.cfg.max_chars:
        raise rt.output_too_big()
    return a + b


def contains(needle: Any, haystack: Any) -> bool:
    """Twig's ``in`` operator."""
    if isinstance(haystack, str):
        if isinstance(needle, str | int | float) and not isinstance(needle, bool):
            text = to_str(needle)
            return text == "" or text in haystack
        return False
    if not v.is_array(haystack):
        return False
    return any(v.loose_eq(needle, item) for item in v.iter_values(haystack))


def starts_with(left: Any, right: Any) -> bool:
    return isinstance(left, str) and isinstance(right, str) and str.startswith(left, right)


def ends_with(left: Any, right: Any) -> bool:
    return isinstance(left, str) and isinstance(right, str) and str.endswith(left, right)


def bit_and(left: Any, right: Any) -> int:
    return v.to_int(v.to_number(left, "b-and")) & v.to_int(v.to_number(right, "b-and"))


def bit_or(left: Any, right: Any) -> int:
    return v.to_int(v.to_number(left, "b-or")) | v.to_int(v.to_number(right, "b-or"))


def bit_xor(left: Any, right: Any) -> int:
    return v.to_int(v.to_number(left, "b-xor")) ^ v.to_int(v.to_number(right, "b-xor"))


def make_hash(pairs: Sequence[tuple[Any, Any]]) -> dict[Any, Any]:
    return {v.normalize_key(key): value for key, value in pairs}


def is_empty(value: Any) -> bool:
    """Twig's ``empty`` test (used by ``default``): '', null, false and empty arrays."""
    if value is None or value is False or value is MISSING:
        return True
    t = type(value)
    if t is str:
        return value == ""  # type: ignore[no-any-return]
    if t is list or t is dict or t is tuple:
        return len(value) == 0
    if isinstance(value, str):
        return value == ""
    return False


def loop_items(value: Any) -> list[Any]:
    """Values a ``for`` loop walks (strings, numbers and null give no iterations, as in Twig)."""
    t = type(value)
    if t is list:
        return value  # type: ignore[no-any-return]
    if t is dict:
        return list(value.values())
    if t is tuple:
        return list(value)
    return list(v.iter_values(value))


def loop_pairs(value: Any) -> list[tuple[Any, Any]]:
    return list(v.array_items(value))


def with_variables(value: Any) -> dict[str, Any]:
    if value is None or value is MISSING:
        return {}
    if not v.is_array(value):
        raise TemplateRuntimeError('variables passed to a "with" tag must be a mapping')
    return {to_str(key): item for key, item in v.array_items(value)}


def capture(out: list[str]) -> Any:
    text = "".join(out)
    return Markup(text) if text else ""


def call_macro(
    rt: Runtime,
    function: Callable[[Runtime, dict[str, Any]], str],
    params: Sequence[str],
    args: Sequence[Any],
    kwargs: dict[str, Any],
    name: str,
) -> Any:
    if rt.macro_depth >= rt.cfg.max_macro_depth:
        raise TemplateLimitError(
            f'macro "{name}" is nested more than {rt.cfg.max_macro_depth} calls deep',
            hint="a macro that calls itself needs a condition that stops it",
        )
    context: dict[str, Any] = {}
    for index, param in enumerate(params):
        context[param] = args[index] if index < len(args) else MISSING
    for key, value in kwargs.items():
        if key not in params:
            raise TemplateRuntimeError(f'macro "{name}" has no argument named "{key}"')
        context[key] = value
    context["varargs"] = list(args[len(params) :])
    rt.macro_depth += 1
    try:
        return function(rt, context)
    finally:
        rt.macro_depth -= 1
