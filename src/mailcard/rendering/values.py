"""PHP value semantics for template data: truthiness, printing, comparison, arithmetic, keys.

Templates only ever handle JSON-like data (``dict``, ``list``, ``str``, ``int``, ``float``,
``bool``, ``None``) plus two engine-made kinds: :class:`Markup` (a string already safe for HTML)
and ``datetime`` (made by ``date()``/``date_modify``). Everything here mirrors what PHP 8 does with
the equivalent PHP values, because CRM users expect Twig's output byte for byte.

A PHP "array" is either a Python ``list`` (keys 0..n-1 in order) or a ``dict`` whose keys are
normalised like PHP normalises array keys (``"12"`` and ``12`` are the same key).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from mailcard.errors import TemplateRuntimeError

__all__ = [
    "MISSING",
    "Markup",
    "add",
    "array_items",
    "compare",
    "div",
    "floordiv",
    "is_array",
    "is_list_like",
    "iter_values",
    "lookup",
    "loose_eq",
    "mod",
    "mul",
    "neg",
    "normalize_key",
    "php_float_str",
    "power",
    "same_as",
    "sub",
    "to_float",
    "to_int",
    "to_number",
    "to_str",
    "truthy",
]

INT_MAX = 2**63 - 1
INT_MIN = -(2**63)


class Markup(str):
    """A string that is already safe for HTML output (captures, macro output)."""

    __slots__ = ()


class _Missing:
    """Sentinel for "no such variable or key" (distinct from ``None``, which is PHP null)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()

_NUMERIC_RE = re.compile(
    r"[ \t\n\r\x0b\x0c]*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t\n\r\x0b\x0c]*\Z"
)
_INT_RE = re.compile(r"[ \t\n\r\x0b\x0c]*[+-]?[0-9]+[ \t\n\r\x0b\x0c]*\Z")
_LEADING_NUMERIC_RE = re.compile(
    r"[ \t\n\r\x0b\x0c]*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
)
_CANONICAL_INT_KEY_RE = re.compile(r"(?:0|-?[1-9][0-9]*)\Z")


# --------------------------------------------------------------------------------------- printing


def php_float_str(value: float) -> str:
    """``(string) $float`` in PHP 8: 14 significant digits, ``1.0E+25`` style exponents."""
    if value != value:
        return "NAN"
    if value in (math.inf, -math.inf):
        return "INF" if value > 0 else "-INF"
    if value == 0.0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    text = f"{value:.14G}"
    if "E" in text:
        mantissa, exponent = text.split("E")
        if "." not in mantissa:
            mantissa += ".0"
        sign = exponent[0]
        digits = exponent[1:].lstrip("0") or "0"
        return f"{mantissa}E{sign}{digits}"
    return text


def to_str(value: Any) -> str:
    """PHP string conversion: ``true`` → ``1``, ``false``/``null`` → ``''``, ``1500.0`` → ``1500``."""
    t = type(value)
    if t is str:
        return value  # type: ignore[no-any-return]
    if t is int:
        return str(value)
    if t is float:
        return php_float_str(value)
    if value is None:
        return ""
    if t is bool:
        return "1" if value else ""
    if isinstance(value, str):
        return str.__str__(value)
    if t is list or t is dict or t is tuple:
        # PHP prints "Array" (with a warning); keep the output predictable rather than crash.
        return "Array"
    if isinstance(value, datetime):
        raise TemplateRuntimeError(
            "a date cannot be printed directly",
            hint="format it first, e.g. {{ value|date('d.m.Y') }}",
        )
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return php_float_str(float(value))
    raise TemplateRuntimeError(f"a value of type {type(value).__name__} cannot be used in a template")


def truthy(value: Any) -> bool:
    """PHP boolean conversion: ``''``, ``'0'``, ``0``, ``0.0``, ``[]``, ``null`` are false; objects true."""
    t = type(value)
    if t is bool:
        return value  # type: ignore[no-any-return]
    if t is str:
        return bool(value != "" and value != "0")
    if value is None:
        return False
    if t is int or t is float:
        return bool(value != 0)
    if t is list or t is dict or t is tuple:
        return len(value) > 0
    if t is Markup:
        # Twig's captured block (``{% set x %}0{% endset %}``) is a Markup object, and a PHP object is
        # always true: even "0". (An empty capture is the plain string '', false.)
        return True
    if isinstance(value, str):
        return value != "" and value != "0"
    return value is not MISSING


# --------------------------------------------------------------------------------------- numbers


def _parse_numeric(text: str) -> int | float | None:
    """The number a PHP numeric string stands for, or None when it is not numeric."""
    if _INT_RE.match(text):
        number = int(text.strip(" \t\n\r\x0b\x0c"))
        if INT_MIN <= number <= INT_MAX:
            return number
        return float(number)
    if _NUMERIC_RE.match(text):
        return float(text.strip(" \t\n\r\x0b\x0c"))
    return None


def is_numeric_str(text: str) -> bool:
    return _NUMERIC_RE.match(text) is not None


def to_number(value: Any, op: str = "arithmetic") -> int | float:
    """Operand conversion for arithmetic, as PHP 8 does it (non-numeric strings are an error)."""
    t = type(value)
    if t is int or t is float:
        return value  # type: ignore[no-any-return]
    if t is bool:
        return int(value)
    if value is None or value is MISSING:
        return 0
    if isinstance(value, str):
        number = _parse_numeric(value)
        if number is not None:
            return number
        match = _LEADING_NUMERIC_RE.match(value)
        if match:  # "12abc": PHP warns and uses the leading number
            parsed = _parse_numeric(match.group(0))
            if parsed is not None:
                return parsed
        raise TemplateRuntimeError(f"unsupported operand for {op}: {str(value)[:40]!r} is not a number")
    if isinstance(value, int | float):
        return value
    if t is list or t is dict or t is tuple:
        raise TemplateRuntimeError(f"unsupported operand for {op}: an array is not a number")
    raise TemplateRuntimeError(f"unsupported operand for {op}: a {type(value).__name__} is not a number")


def to_int(value: Any) -> int:
    """``(int) $value`` in PHP (never raises)."""
    t = type(value)
    if t is int:
        return value  # type: ignore[no-any-return]
    if t is bool:
        return int(value)
    if t is float:
        if value != value or value in (math.inf, -math.inf):
            return 0
        return int(value)
    if value is None:
        return 0
    if isinstance(value, str):
        match = _LEADING_NUMERIC_RE.match(value)
        if not match:
            return 0
        number = _parse_numeric(match.group(0))
        if number is None:
            return 0
        return to_int(number)
    if t is list or t is dict or t is tuple:
        return 1 if value else 0
    return 0


def to_float(value: Any) -> float:
    """``(float) $value`` in PHP (never raises): non-numeric text is 0."""
    t = type(value)
    if t is float:
        return value  # type: ignore[no-any-return]
    if t is int or t is bool:
        return float(value)
    if isinstance(value, str):
        match = _LEADING_NUMERIC_RE.match(value)
        if not match:
            return 0.0
        try:
            return float(match.group(0).strip(" \t\n\r\x0b\x0c"))
        except ValueError:
            return 0.0
    if isinstance(value, int | float):
        return float(value)
    if t is list or t is dict or t is tuple:
        return 1.0 if value else 0.0
    return 0.0


def _fit(number: int) -> int | float:
    """PHP integers overflow to float."""
    if INT_MIN <= number <= INT_MAX:
        return number
    return float(number)


def add(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return _fit(a + b)
    if (ta is list or ta is dict) and (tb is list or tb is dict):
        # PHP array union: keys of the left win.
        result = dict(array_items(a))
        for key, value in array_items(b):
            result.setdefault(key, value)
        return result
    x, y = to_number(a, "+"), to_number(b, "+")
    if type(x) is int and type(y) is int:
        return _fit(x + y)
    return float(x) + float(y)


def sub(a: Any, b: Any) -> Any:
    x, y = to_number(a, "-"), to_number(b, "-")
    if type(x) is int and type(y) is int:
        return _fit(x - y)
    return float(x) - float(y)


def mul(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if (ta is float and (tb is float or tb is int)) or (tb is float and ta is int):
        return float(a) * float(b)  # price * quantity: what the general path gives, sooner
    x, y = to_number(a, "*"), to_number(b, "*")
    if type(x) is int and type(y) is int:
        return _fit(x * y)
    return float(x) * float(y)


def div(a: Any, b: Any) -> Any:
    x, y = to_number(a, "/"), to_number(b, "/")
    if y == 0:
        raise TemplateRuntimeError("division by zero")
    if type(x) is int and type(y) is int and x % y == 0:
        return _fit(x // y)
    return float(x) / float(y)


def floordiv(a: Any, b: Any) -> Any:
    x, y = to_number(a, "//"), to_number(b, "//")
    if y == 0:
        raise TemplateRuntimeError("division by zero")
    if type(x) is int and type(y) is int:
        return x // y
    result = math.floor(float(x) / float(y))
    return _fit(result)


def mod(a: Any, b: Any) -> Any:
    # PHP's % works on integers and keeps the sign of the dividend: -7 % 3 == -1.
    to_number(a, "%")
    to_number(b, "%")
    x, y = to_int(a), to_int(b)
    if y == 0:
        raise TemplateRuntimeError("modulo by zero")
    remainder = abs(x) % abs(y)
    return -remainder if x < 0 else remainder


def power(a: Any, b: Any) -> Any:
    x, y = to_number(a, "**"), to_number(b, "**")
    if type(x) is int and type(y) is int and y >= 0:
        if abs(x) <= 1 or y <= 64:
            return _fit(x**y)
        try:
            return float(x) ** float(y)
        except OverflowError:
            return math.inf if x > 0 or y % 2 == 0 else -math.inf
    try:
        result = float(x) ** float(y)
    except ZeroDivisionError:
        return math.inf
    except OverflowError:
        return math.inf
    if isinstance(result, complex):
        return math.nan
    return result


def neg(a: Any) -> Any:
    x = to_number(a, "unary -")
    if type(x) is int:
        return _fit(-x)
    return -x


# --------------------------------------------------------------------------------------- arrays


def normalize_key(key: Any) -> Any:
    """A PHP array key: canonical decimal strings become ints, bools/floats are truncated."""
    t = type(key)
    if t is int:
        return key
    if t is str:
        if _CANONICAL_INT_KEY_RE.match(key):
            number = int(key)
            if INT_MIN <= number <= INT_MAX:
                return number
        return key
    if t is bool:
        return int(key)
    if t is float:
        return to_int(key)
    if key is None:
        return ""
    if isinstance(key, str):
        return normalize_key(str.__str__(key))
    raise TemplateRuntimeError("an array key must be a string or a number")


def is_array(value: Any) -> bool:
    t = type(value)
    return t is list or t is dict or t is tuple


def is_list_like(value: Any) -> bool:
    """True when a PHP array would be a JSON list: keys 0..n-1 in order."""
    t = type(value)
    if t is list or t is tuple:
        return True
    if t is dict:
        return all(normalize_key(key) == index for index, key in enumerate(value))
    return False


def array_items(value: Any) -> Iterator[tuple[Any, Any]]:
    """(key, value) pairs of a PHP array with normalised keys; nothing for non-arrays."""
    t = type(value)
    if t is list or t is tuple:
        return iter(enumerate(value))
    if t is dict:
        return ((normalize_key(k), v) for k, v in value.items())
    if isinstance(value, Mapping):
        return ((normalize_key(k), v) for k, v in value.items())
    return iter(())


def iter_values(value: Any) -> Iterable[Any]:
    t = type(value)
    if t is list or t is tuple:
        return value  # type: ignore[no-any-return]
    if t is dict:
        return value.values()  # type: ignore[no-any-return]
    if isinstance(value, Mapping):
        return value.values()
    return ()


def make_array(pairs: Iterable[tuple[Any, Any]]) -> list[Any] | dict[Any, Any]:
    """Build a PHP array from pairs; a list when the keys are 0..n-1 in order."""
    result: dict[Any, Any] = {}
    for key, value in pairs:
        result[key] = value
    for index, key in enumerate(result):
        if key != index:
            return result
    return list(result.values())


def lookup(obj: Any, key: Any) -> Any:
    """``obj[key]`` / ``obj.key`` on plain data only; MISSING when absent. Never uses getattr."""
    t = type(obj)
    if t is list or t is tuple:
        index = _index(key)
        if index is not None and 0 <= index < len(obj):
            return obj[index]
        return MISSING
    # ``t is dict`` first: the common case skips the slower isinstance check against Mapping.
    if t is dict or (isinstance(obj, Mapping) and not isinstance(obj, type)):
        if type(key) is float or type(key) is bool:
            key = to_int(key)  # PHP casts such array keys: x[1.9] is x[1], which JSON holds as "1"
        try:
            return obj[key]
        except (KeyError, TypeError):
            pass
        alt = _alt_key(key)
        if alt is not MISSING:
            try:
                return obj[alt]
            except (KeyError, TypeError):
                pass
    return MISSING


def _alt_key(key: Any) -> Any:
    t = type(key)
    if t is int:
        return str(key)
    if t is str:
        normal = normalize_key(key)
        return normal if normal is not key and type(normal) is int else MISSING
    if key is None:
        return ""
    return MISSING


def _index(key: Any) -> int | None:
    t = type(key)
    if t is int:
        return key  # type: ignore[no-any-return]
    if t is str:
        normal = normalize_key(key)
        return normal if type(normal) is int else None
    if t is bool or t is float:
        return to_int(key)
    return None


# --------------------------------------------------------------------------------------- comparison


def _cmp(a: Any, b: Any) -> int:
    return int(a > b) - int(a < b)


def _strcmp(a: str, b: str) -> int:
    na = _parse_numeric(a)
    nb = _parse_numeric(b)
    if na is not None and nb is not None:
        return _cmp(na, nb)
    return _cmp(a, b)


def compare(a: Any, b: Any) -> int:
    """PHP 8 ``$a <=> $b`` (Twig's ``compare``); uncomparable arrays give 1."""
    ta, tb = type(a), type(b)
    if a is MISSING:
        a, ta = None, type(None)
    if b is MISSING:
        b, tb = None, type(None)
    if isinstance(a, str) and ta is not str:
        a, ta = str.__str__(a), str
    if isinstance(b, str) and tb is not str:
        b, tb = str.__str__(b), str
    if ta is str and tb is str:
        return _strcmp(a, b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        if a != a or b != b:
            return 1
        return _cmp(a, b)
    if a is None and tb is str:
        return 0 if b == "" else -1
    if ta is str and b is None:
        return 0 if a == "" else 1
    if ta is bool or tb is bool or a is None or b is None:
        return _cmp(truthy(a), truthy(b))
    if (ta is int or ta is float) and tb is str:
        number = _parse_numeric(b)
        if number is None:
            return _cmp(to_str(a), b)
        return _cmp(a, number)
    if ta is str and (tb is int or tb is float):
        number = _parse_numeric(a)
        if number is None:
            return _cmp(a, to_str(b))
        return _cmp(number, b)
    a_arr = ta is list or ta is dict or ta is tuple
    b_arr = tb is list or tb is dict or tb is tuple
    if a_arr and b_arr:
        if len(a) != len(b):
            return _cmp(len(a), len(b))
        right = dict(array_items(b))
        for key, value in array_items(a):
            if key not in right:
                return 1
            result = compare(value, right[key])
            if result:
                return result
        return 0
    if a_arr:
        return 1
    if b_arr:
        return -1
    if isinstance(a, datetime) and isinstance(b, datetime):
        return _cmp(a.timestamp(), b.timestamp())
    if isinstance(a, datetime) or isinstance(b, datetime):
        return 1
    return _cmp(to_str(a), to_str(b))


def loose_eq(a: Any, b: Any) -> bool:
    """PHP 8 ``==``."""
    ta, tb = type(a), type(b)
    if ta is str and tb is str:
        if a == b:
            return True
        na = _parse_numeric(a)
        if na is None:
            return False
        nb = _parse_numeric(b)
        return nb is not None and na == nb
    a_arr = ta is list or ta is dict or ta is tuple
    b_arr = tb is list or tb is dict or tb is tuple
    if a_arr and b_arr:
        if len(a) != len(b):
            return False
        right = dict(array_items(b))
        return all(key in right and loose_eq(value, right[key]) for key, value in array_items(a))
    if (a_arr or b_arr) and not (ta is bool or tb is bool or a is None or b is None):
        return False
    if (ta is float and a != a) or (tb is float and b != b):
        return False
    return compare(a, b) == 0


def same_as(a: Any, b: Any) -> bool:
    """PHP ``===``: same type and value (arrays: same pairs, same order, same types)."""
    if isinstance(a, str) and isinstance(b, str):
        return str.__str__(a) == str.__str__(b)
    ta, tb = type(a), type(b)
    a_arr = ta is list or ta is dict or ta is tuple
    b_arr = tb is list or tb is dict or tb is tuple
    if a_arr and b_arr:
        left = list(array_items(a))
        right = list(array_items(b))
        if len(left) != len(right):
            return False
        return all(
            ka == kb and type(ka) is type(kb) and same_as(va, vb)
            for (ka, va), (kb, vb) in zip(left, right, strict=True)
        )
    if a is MISSING:
        a, ta = None, type(None)
    if b is MISSING:
        b, tb = None, type(None)
    if ta is not tb:
        return False
    if ta is float and (a != a or b != b):
        return False
    return bool(a == b)
