"""Twig's built-in filters, functions and tests, reimplemented on plain data.

Each callable receives template values and returns template values; those needing the render
state (timezone, limits, defaults) take the :class:`~mailcard.rendering.runtime.Runtime` first.
``include``, ``source`` and friends are deliberately absent or refuse with a clear error, and
``constant()`` knows only a fixed list of harmless PHP constants (json_encode's flags, ``PHP_EOL``...):
nothing here can reach Python objects, files, the environment or the network.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import regex

from mailcard.errors import TemplateLimitError, TemplateRuntimeError
from mailcard.rendering import phpdate, phpformat
from mailcard.rendering import values as v
from mailcard.rendering.escape import escape
from mailcard.rendering.runtime import Runtime, is_empty
from mailcard.rendering.values import MISSING, Markup, to_str

__all__ = ["FILTERS", "FUNCTIONS", "TESTS", "Spec"]


@dataclass(frozen=True, slots=True)
class Spec:
    fn: Callable[..., Any]
    needs_rt: bool = False
    safe: frozenset[str] = frozenset()  # strategies whose escaping the output already satisfies
    pre_escape: str | None = None
    params: tuple[str, ...] = field(default=())


def _spec(
    fn: Callable[..., Any],
    *,
    needs_rt: bool = False,
    safe: tuple[str, ...] = (),
    pre: str | None = None,
    function: bool = False,
) -> Spec:
    names = [p.name for p in inspect.signature(fn).parameters.values() if p.kind is not p.VAR_POSITIONAL]
    skip = (0 if function else 1) + (1 if needs_rt else 0)
    return Spec(fn, needs_rt, frozenset(safe), pre, tuple(names[skip:]))


def _str(value: Any) -> str:
    return "" if value is None else to_str(value)


def _array(value: Any, name: str) -> Any:
    if not v.is_array(value):
        kind = "null" if value is None else type(value).__name__
        raise TemplateRuntimeError(f'the "{name}" filter expects a sequence or a mapping, got {kind}')
    return value


class Arrow:
    """A template arrow function. Only these are ever called: never a callable from the context."""

    __slots__ = ("_fn",)

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn


def _call(rt: Runtime, arrow: Any, *args: Any) -> Any:
    if type(arrow) is not Arrow:
        raise TemplateRuntimeError("an arrow function is expected here, e.g. (v) => v.price > 10")
    return arrow._fn(*args)


def arrow_function(fn: Callable[..., Any]) -> Arrow:
    return Arrow(fn)


# ----------------------------------------------------------------------------- string filters


def f_upper(value: Any) -> str:
    return _str(value).upper()


def f_lower(value: Any) -> str:
    return _str(value).lower()


def f_capitalize(value: Any) -> str:
    return phpformat.mb_capitalize(_str(value))


def f_title(value: Any) -> str:
    return phpformat.mb_title(_str(value))


DEFAULT_TRIM = " \t\n\r\x00\x0b"


def f_trim(value: Any, character_mask: Any = None, side: Any = "both") -> Any:
    mask = DEFAULT_TRIM if character_mask is None else _str(character_mask)
    text = _str(value)
    if side == "both":
        result = text.strip(mask)
    elif side == "left":
        result = text.lstrip(mask)
    elif side == "right":
        result = text.rstrip(mask)
    else:
        raise TemplateRuntimeError('trimming side must be "left", "right" or "both"')
    # Trimming a safe string with the default mask keeps it safe (Twig does the same).
    if isinstance(value, Markup) and character_mask is None:
        return Markup(result)
    return result


def f_nl2br(value: Any) -> str:
    return re.sub(r"(\r\n|\n\r|\n|\r)", r"<br />\1", _str(value))


def f_striptags(value: Any, allowable_tags: Any = None) -> str:
    return phpformat.strip_tags(_str(value), allowable_tags)


def f_spaceless(value: Any) -> str:
    return re.sub(r">\s+<", "><", _str(value)).strip()


def f_raw(value: Any) -> Any:
    return value


def f_escape(value: Any, strategy: Any = "html", charset: Any = None, autoescape: Any = False) -> str:
    return escape(value, strategy)


def f_format(rt: Runtime, value: Any, *args: Any) -> str:
    return rt.check_str(phpformat.sprintf(_str(value), *args))


def f_replace(rt: Runtime, value: Any, from_: Any) -> str:
    if not v.is_array(from_):
        raise TemplateRuntimeError('the "replace" filter expects a mapping, e.g. replace({"%name%": name})')
    pairs = {to_str(key): to_str(item) for key, item in v.array_items(from_) if to_str(key) != ""}
    text = _str(value)
    if not pairs:
        return text
    # strtr: longest keys first, one left-to-right pass, replaced text is never rescanned.
    pattern = re.compile("|".join(re.escape(key) for key in sorted(pairs, key=len, reverse=True)))
    return rt.check_str(pattern.sub(lambda m: pairs[m.group(0)], text))


def f_url_encode(value: Any) -> str:
    if v.is_array(value):
        return phpformat.http_build_query(value)
    return escape(_str(value), "url")


def f_json_encode(value: Any, options: Any = 0) -> str:
    return phpformat.json_encode(value, v.to_int(options))


def f_number_format(
    rt: Runtime, value: Any, decimal: Any = None, decimal_point: Any = None, thousand_sep: Any = None
) -> str:
    if type(decimal) is int and type(decimal_point) is str and type(thousand_sep) is str:
        return phpformat.number_format(value, decimal, decimal_point, thousand_sep)
    default_decimal, default_point, default_sep = rt.cfg.number_format
    return phpformat.number_format(
        value,
        default_decimal if decimal is None else v.to_int(decimal),
        default_point if decimal_point is None else to_str(decimal_point),
        default_sep if thousand_sep is None else to_str(thousand_sep),
    )


def f_abs(value: Any) -> Any:
    number = v.to_number(value, "abs")
    return abs(number)


def f_round(value: Any, precision: Any = 0, method: Any = "common") -> float:
    number = v.to_float(value)
    places = v.to_int(precision)
    if method == "common":
        return phpformat.php_round(number, places)
    if method not in ("ceil", "floor"):
        raise TemplateRuntimeError(
            'the "round" filter only supports the "common", "ceil" and "floor" methods'
        )
    places = max(-100, min(100, places))
    factor = 10.0**places
    rounder = math.ceil if method == "ceil" else math.floor
    try:
        return float(rounder(number * factor)) / factor
    except (OverflowError, ValueError):
        return number


def f_date(rt: Runtime, value: Any, format: Any = None, timezone: Any = None) -> str:
    fmt = rt.date_format if format is None else to_str(format)
    dt = phpdate.convert_date(value, timezone, rt.timezone)
    return phpdate.format_date(dt, fmt)


def f_date_modify(rt: Runtime, value: Any, modifier: Any) -> datetime:
    return phpdate.modify_date(value, to_str(modifier), rt.timezone)


# ----------------------------------------------------------------------------- array filters


def f_length(value: Any) -> int:
    if value is None:
        return 0
    if v.is_array(value):
        return len(value)
    if isinstance(value, str | int | float | bool):
        return len(to_str(value))
    return 1


def f_join(value: Any, glue: Any = "", and_: Any = None) -> str:
    if v.is_array(value):
        items = [to_str(item) for item in v.iter_values(value)]
    elif value is None:
        items = []
    else:
        items = [to_str(value)]
    glue_text = to_str(glue)
    if not items:
        return ""
    if and_ is None or to_str(and_) == glue_text:
        return glue_text.join(items)
    if len(items) == 1:
        return items[0]
    return glue_text.join(items[:-1]) + to_str(and_) + items[-1]


def f_split(rt: Runtime, value: Any, delimiter: Any, limit: Any = None) -> list[str]:
    text = _str(value)
    sep = to_str(delimiter)
    if sep != "":
        if limit is None:
            return text.split(sep)
        count = v.to_int(limit)
        if count > 0:
            return text.split(sep, count - 1)
        parts = text.split(sep)
        if count < 0:
            return parts[:count]
        return [text]
    size = 1 if limit is None else v.to_int(limit)
    if size <= 1:
        return list(text)
    if len(text) < size:
        return [text]
    return [text[i : i + size] for i in range(0, len(text), size)]


def f_keys(value: Any) -> list[Any]:
    return [key for key, _ in v.array_items(value)]


def f_merge(rt: Runtime, value: Any, *arrays: Any) -> Any:
    result: dict[Any, Any] = {}
    next_index = 0
    for number, array in enumerate((value, *arrays), start=1):
        if not v.is_array(array):
            kind = "null" if array is None else type(array).__name__
            raise TemplateRuntimeError(
                f'the "merge" filter expects a sequence or a mapping, got {kind} (argument {number})'
            )
        rt.charge(len(array))
        for key, item in v.array_items(array):
            if type(key) is int:
                result[next_index] = item
                next_index += 1
            else:
                result[key] = item
    return v.make_array(result.items())


def f_slice(value: Any, start: Any, length: Any = None, preserve_keys: Any = False) -> Any:
    begin = v.to_int(start)
    if v.is_array(value):
        items = list(v.array_items(value))
        chosen = _slice_range(len(items), begin, length)
        picked = items[chosen]
        if v.truthy(preserve_keys):
            return v.make_array(picked)
        return _renumber(picked)
    text = _str(value)
    return text[_slice_range(len(text), begin, length)]


def _slice_range(size: int, start: int, length: Any) -> slice:
    if start < 0:
        start = max(0, size + start)
    start = min(start, size)
    if length is None:
        return slice(start, size)
    count = v.to_int(length)
    end = size + count if count < 0 else start + count
    return slice(start, max(start, min(end, size)))


def _renumber(pairs: list[tuple[Any, Any]]) -> Any:
    result: dict[Any, Any] = {}
    index = 0
    for key, item in pairs:
        if type(key) is int:
            result[index] = item
            index += 1
        else:
            result[key] = item
    return v.make_array(result.items())


def f_first(value: Any) -> Any:
    if v.is_array(value):
        for item in v.iter_values(value):
            return item
        return False
    text = _str(value)
    return text[:1]


def f_last(value: Any) -> Any:
    if v.is_array(value):
        items = list(v.iter_values(value))
        return items[-1] if items else False
    text = _str(value)
    return text[-1:]


def f_reverse(value: Any, preserve_keys: Any = False) -> Any:
    if v.is_array(value):
        pairs = list(v.array_items(value))[::-1]
        if v.truthy(preserve_keys):
            return v.make_array(pairs)
        return _renumber(pairs)
    return _str(value)[::-1]


def _compare_values(a: tuple[Any, Any], b: tuple[Any, Any]) -> int:
    return v.compare(a[1], b[1])


def f_sort(rt: Runtime, value: Any, arrow: Any = None) -> Any:
    _array(value, "sort")
    pairs = list(v.array_items(value))
    rt.charge(len(pairs))
    if arrow is None:
        pairs.sort(key=functools.cmp_to_key(_compare_values))
    else:

        def compare(a: tuple[Any, Any], b: tuple[Any, Any]) -> int:
            rt.charge(1)
            result = v.to_number(_call(rt, arrow, a[1], b[1]), "sort")
            return (result > 0) - (result < 0)

        pairs.sort(key=functools.cmp_to_key(compare))
    return v.make_array(pairs)


def f_batch(rt: Runtime, value: Any, size: Any, fill: Any = None, preserve_keys: Any = True) -> list[Any]:
    _array(value, "batch")
    count = math.ceil(float(v.to_number(size, "batch")))
    if count < 1:
        raise TemplateRuntimeError('the "batch" size must be at least 1')
    pairs = list(v.array_items(value))
    if fill is not None and count > rt.max_steps:
        raise TemplateRuntimeError('the "batch" size is too large')
    keep = v.truthy(preserve_keys)
    rows: list[Any] = []
    for offset in range(0, len(pairs), count):
        chunk = pairs[offset : offset + count]
        if not keep:
            chunk = list(enumerate(item for _, item in chunk))
        row = dict(chunk)
        if fill is not None and offset + count > len(pairs):
            next_key = max((key for key in row if type(key) is int), default=-1) + 1
            for _ in range(count - len(chunk)):
                row[next_key] = fill
                next_key += 1
        rows.append(v.make_array(row.items()))
    return rows


def f_column(value: Any, name: Any, index: Any = None) -> Any:
    _array(value, "column")
    pairs: list[tuple[Any, Any]] = []
    position = 0
    for row in v.iter_values(value):
        item = v.lookup(row, name)
        if item is MISSING:
            continue
        if index is not None:
            key = v.lookup(row, index)
            if key is not MISSING:
                pairs.append((v.normalize_key(key), item))
                continue
        pairs.append((position, item))
        position += 1
    return v.make_array(pairs)


def f_filter(rt: Runtime, value: Any, arrow: Any) -> Any:
    _array(value, "filter")
    rt.charge(len(value))
    return v.make_array(
        (key, item) for key, item in v.array_items(value) if v.truthy(_call(rt, arrow, item, key))
    )


def f_map(rt: Runtime, value: Any, arrow: Any) -> Any:
    _array(value, "map")
    rt.charge(len(value))
    return v.make_array((key, _call(rt, arrow, item, key)) for key, item in v.array_items(value))


def f_reduce(rt: Runtime, value: Any, arrow: Any, initial: Any = None) -> Any:
    _array(value, "reduce")
    rt.charge(len(value))
    carry = initial
    for key, item in v.array_items(value):
        carry = _call(rt, arrow, carry, item, key)
    return carry


def f_find(rt: Runtime, value: Any, arrow: Any) -> Any:
    _array(value, "find")
    rt.charge(len(value))
    for key, item in v.array_items(value):
        if v.truthy(_call(rt, arrow, item, key)):
            return item
    return None


def f_default(value: Any, default: Any = "") -> Any:
    return default if is_empty(value) else value


def f_shuffle(rt: Runtime, value: Any) -> Any:
    if isinstance(value, str):
        chars = list(value)
        rt.random.shuffle(chars)
        return "".join(chars)
    if v.is_array(value):
        items = list(v.iter_values(value))
        rt.random.shuffle(items)
        return items
    return value


def f_invoke(rt: Runtime, arrow: Any, *args: Any) -> Any:
    return _call(rt, arrow, *args)


# ----------------------------------------------------------------------------- functions


def fn_range(rt: Runtime, low: Any, high: Any, step: Any = 1) -> list[Any]:
    if (
        isinstance(low, str)
        and isinstance(high, str)
        and low
        and high
        and not (v.is_numeric_str(low) and v.is_numeric_str(high))
    ):
        start, end = ord(low[0]), ord(high[0])
        stride = abs(v.to_int(step)) or 1
        codes = range(start, end + 1, stride) if start <= end else range(start, end - 1, -stride)
        rt.charge(len(codes))
        return [chr(code) for code in codes]
    a = v.to_number(low, "range")
    b = v.to_number(high, "range")
    s = v.to_number(step, "range")
    if s == 0:
        raise TemplateRuntimeError("range() step cannot be 0")
    if type(a) is int and type(b) is int and type(s) is int:
        stride = abs(s)
        ints = range(a, b + 1, stride) if a <= b else range(a, b - 1, -stride)
        rt.charge(len(ints))
        return list(ints)
    fa, fb, fs = float(a), float(b), abs(float(s))
    count = math.floor(abs(fb - fa) / fs + 1e-9) + 1
    rt.charge(count)
    direction = 1 if fa <= fb else -1
    return [fa + direction * i * fs for i in range(count)]


def _minmax(args: tuple[Any, ...], pick: int, name: str) -> Any:
    items: list[Any]
    if len(args) == 1:
        if not v.is_array(args[0]):
            raise TemplateRuntimeError(f"{name}() expects an array or at least two values")
        items = list(v.iter_values(args[0]))
    else:
        items = list(args)
    if not items:
        raise TemplateRuntimeError(f"{name}() of an empty array")
    best = items[0]
    for item in items[1:]:
        if v.compare(item, best) * pick > 0:
            best = item
    return best


def fn_max(*values: Any) -> Any:
    return _minmax(values, 1, "max")


def fn_min(*values: Any) -> Any:
    return _minmax(values, -1, "min")


def fn_cycle(values: Any, position: Any) -> Any:
    if not v.is_array(values):
        raise TemplateRuntimeError("cycle() expects a sequence as first argument")
    items = list(v.iter_values(values))
    if not items:
        raise TemplateRuntimeError("cycle() expects a non-empty sequence")
    return items[v.to_int(position) % len(items)]


def fn_random(rt: Runtime, values: Any = None, max: Any = None) -> Any:
    generator = rt.random
    if values is None:
        return generator.randint(0, 2**31 - 1) if max is None else generator.randint(0, v.to_int(max))
    if isinstance(values, int | float) and not isinstance(values, bool):
        low, high = (v.to_int(values), v.to_int(max)) if max is not None else sorted((0, v.to_int(values)))
        return generator.randint(min(low, high), builtins_max(low, high))
    if isinstance(values, str):
        return generator.choice(values) if values else ""
    if v.is_array(values):
        items = list(v.iter_values(values))
        if not items:
            raise TemplateRuntimeError("random() cannot pick from an empty sequence")
        return generator.choice(items)
    return values


def builtins_max(a: int, b: int) -> int:
    return a if a > b else b


def fn_date(rt: Runtime, date: Any = None, timezone: Any = None) -> datetime:
    return phpdate.convert_date(date, timezone, rt.timezone)


def fn_attribute(obj: Any, attribute: Any, arguments: Any = None) -> Any:
    # Same as obj[attribute]: key lookup on plain data, never a Python attribute.
    value = v.lookup(obj, attribute)
    return None if value is MISSING else value


# The PHP constants templates use for formatting, and nothing else: a class constant or any other
# name (PHP_VERSION, PHP_OS, __DIR__...) would tell a template about the server it runs on.
_CONSTANTS: dict[str, Any] = {
    "JSON_HEX_TAG": phpformat.JSON_HEX_TAG,
    "JSON_HEX_AMP": phpformat.JSON_HEX_AMP,
    "JSON_HEX_APOS": phpformat.JSON_HEX_APOS,
    "JSON_HEX_QUOT": phpformat.JSON_HEX_QUOT,
    "JSON_UNESCAPED_SLASHES": phpformat.JSON_UNESCAPED_SLASHES,
    "JSON_PRETTY_PRINT": phpformat.JSON_PRETTY_PRINT,
    "JSON_UNESCAPED_UNICODE": phpformat.JSON_UNESCAPED_UNICODE,
    "JSON_PRESERVE_ZERO_FRACTION": phpformat.JSON_PRESERVE_ZERO_FRACTION,
    "PHP_EOL": "\n",
    "PHP_INT_MAX": v.INT_MAX,
    "PHP_INT_MIN": v.INT_MIN,
    "M_PI": math.pi,
}


def _constant(name: Any, object: Any) -> Any:
    key = to_str(name)
    if object is not None or key not in _CONSTANTS:
        raise TemplateRuntimeError(
            f'constant("{key[:40]}") is not available in mailcard templates',
            hint="only json_encode's JSON_* flags, PHP_EOL, PHP_INT_MAX, PHP_INT_MIN and M_PI are",
        )
    return _CONSTANTS[key]


def fn_constant(name: Any = None, object: Any = None) -> Any:
    return _constant(name, object)


# ----------------------------------------------------------------------------- tests


def t_empty(value: Any) -> bool:
    return is_empty(value)


def t_even(value: Any) -> bool:
    return v.to_int(value) % 2 == 0


def t_odd(value: Any) -> bool:
    return v.to_int(value) % 2 != 0


def t_iterable(value: Any) -> bool:
    return v.is_array(value)


def t_sequence(value: Any) -> bool:
    return v.is_array(value) and v.is_list_like(value)


def t_mapping(value: Any) -> bool:
    return v.is_array(value) and not v.is_list_like(value)


def t_null(value: Any) -> bool:
    return value is None or value is MISSING


def t_same_as(value: Any, other: Any) -> bool:
    return v.same_as(value, other)


def t_divisible_by(value: Any, divisor: Any) -> bool:
    return bool(v.mod(value, divisor) == 0)


def t_true(value: Any) -> bool:
    return value is True


def t_constant(value: Any, name: Any = None, object: Any = None) -> bool:
    return v.same_as(value, _constant(name, object))


# ----------------------------------------------------------------------------- regex (matches)

_PAIRED = {"(": ")", "[": "]", "{": "}", "<": ">"}
_FLAGS = {"i": regex.IGNORECASE, "m": regex.MULTILINE, "s": regex.DOTALL, "x": regex.VERBOSE, "u": 0, "D": 0}


@functools.lru_cache(maxsize=256)
def compile_pcre(pattern: str) -> tuple[Any, bool]:
    """A PCRE ``/pattern/flags`` string as a compiled ``regex`` pattern (and whether anchored)."""
    if len(pattern) < 2 or pattern[0].isalnum() or pattern[0] == "\\" or pattern[0].isspace():
        raise TemplateRuntimeError(
            f'the regular expression "{pattern[:40]}" must start with a delimiter such as /'
        )
    opener = pattern[0]
    closer = _PAIRED.get(opener, opener)
    end = pattern.rfind(closer)
    if end <= 0:
        raise TemplateRuntimeError(
            f'the regular expression "{pattern[:40]}" has no closing delimiter "{closer}"'
        )
    body, modifiers = pattern[1:end], pattern[end + 1 :]
    flags = regex.V0
    anchored = False
    for modifier in modifiers:
        if modifier == "A":
            anchored = True
        elif modifier in _FLAGS:
            flags |= _FLAGS[modifier]
        elif modifier == "U":
            raise TemplateRuntimeError("the U (ungreedy) regular expression modifier is not supported")
        elif not modifier.isspace():
            raise TemplateRuntimeError(f'unknown regular expression modifier "{modifier}"')
    if "D" in modifiers:
        body = re.sub(r"(?<!\\)\$$", r"\\z", body)
    try:
        if "u" not in modifiers:
            # Without /u, PCRE works on the UTF-8 bytes: "." is one byte, \w and case-insensitivity
            # are ASCII-only, so 'ÉLAN' does not match /élan/i. A bytes pattern behaves the same.
            return regex.compile(body.encode("utf-8", "surrogatepass"), flags), anchored
        return regex.compile(body, flags), anchored
    except regex.error as exc:
        raise TemplateRuntimeError(f'the regular expression "{pattern[:40]}" is not valid: {exc}') from exc


def matches(rt: Runtime, subject: Any, pattern: Any) -> bool:
    compiled, anchored = compile_pcre(to_str(pattern))
    subject_text = _str(subject)
    text: str | bytes = subject_text
    if isinstance(compiled.pattern, bytes):
        text = subject_text.encode("utf-8", "surrogatepass")
    # The time left for the render bounds the regex, so a catastrophic pattern cannot hang us.
    timeout = max(0.01, rt.deadline - time.monotonic())
    try:
        if anchored:
            return compiled.match(text, timeout=timeout) is not None
        return compiled.search(text, timeout=timeout) is not None
    except TimeoutError as exc:
        raise TemplateLimitError("a regular expression took too long (matches)") from exc


# ----------------------------------------------------------------------------- registries

FILTERS: dict[str, Spec] = {
    "abs": _spec(f_abs),
    "batch": _spec(f_batch, needs_rt=True),
    "capitalize": _spec(f_capitalize),
    "column": _spec(f_column),
    "date": _spec(f_date, needs_rt=True),
    "date_modify": _spec(f_date_modify, needs_rt=True),
    "default": _spec(f_default),
    "e": _spec(f_escape),
    "escape": _spec(f_escape),
    "filter": _spec(f_filter, needs_rt=True),
    "find": _spec(f_find, needs_rt=True),
    "first": _spec(f_first),
    "format": _spec(f_format, needs_rt=True),
    "invoke": _spec(f_invoke, needs_rt=True),
    "join": _spec(f_join),
    "json_encode": _spec(f_json_encode),
    "keys": _spec(f_keys),
    "last": _spec(f_last),
    "length": _spec(f_length),
    "lower": _spec(f_lower),
    "map": _spec(f_map, needs_rt=True),
    "merge": _spec(f_merge, needs_rt=True),
    "nl2br": _spec(f_nl2br, safe=("html",), pre="html"),
    "number_format": _spec(f_number_format, needs_rt=True),
    "raw": _spec(f_raw, safe=("all",)),
    "reduce": _spec(f_reduce, needs_rt=True),
    "replace": _spec(f_replace, needs_rt=True),
    "reverse": _spec(f_reverse),
    "round": _spec(f_round),
    "shuffle": _spec(f_shuffle, needs_rt=True),
    "slice": _spec(f_slice),
    "sort": _spec(f_sort, needs_rt=True),
    "spaceless": _spec(f_spaceless, safe=("html",)),
    "split": _spec(f_split, needs_rt=True),
    "striptags": _spec(f_striptags),
    "title": _spec(f_title),
    "trim": _spec(f_trim),
    "upper": _spec(f_upper),
    "url_encode": _spec(f_url_encode),
}

FUNCTIONS: dict[str, Spec] = {
    "attribute": _spec(fn_attribute, function=True),
    "constant": _spec(fn_constant, function=True),
    "cycle": _spec(fn_cycle, function=True),
    "date": _spec(fn_date, needs_rt=True, function=True),
    "max": _spec(fn_max, function=True),
    "min": _spec(fn_min, function=True),
    "random": _spec(fn_random, needs_rt=True, function=True),
    "range": _spec(fn_range, needs_rt=True, function=True),
}

TESTS: dict[str, Spec] = {
    "constant": _spec(t_constant),
    "defined": _spec(t_null),  # compiled specially; the spec only registers the name
    "divisible by": _spec(t_divisible_by),
    "empty": _spec(t_empty),
    "even": _spec(t_even),
    "iterable": _spec(t_iterable),
    "mapping": _spec(t_mapping),
    "none": _spec(t_null),
    "null": _spec(t_null),
    "odd": _spec(t_odd),
    "same as": _spec(t_same_as),
    "sequence": _spec(t_sequence),
    "true": _spec(t_true),
}

# Twig spells some parameters in camelCase in its docs; both spellings are accepted.
PARAM_ALIASES = {
    "preservekeys": "preserve_keys",
    "charactermask": "character_mask",
    "decimalpoint": "decimal_point",
    "thousandsep": "thousand_sep",
    "allowabletags": "allowable_tags",
    "allowedtags": "allowable_tags",
    "from": "from_",
    "and": "and_",
    "glue": "glue",
}
