"""PHP formatting functions Twig filters rely on: round, number_format, sprintf, json_encode,
http_build_query, strip_tags and the mbstring case helpers.

Each follows PHP 8.2 (the version the compatibility corpus was rendered with), not Python: e.g.
``round()`` rounds half away from zero after pre-rounding to 15 significant digits, so
``1.005|number_format(2)`` is ``1.01`` as in PHP (Python's formatting gives ``1.00``).
"""

from __future__ import annotations

import json
import math
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from mailcard.errors import TemplateRuntimeError
from mailcard.rendering.values import (
    array_items,
    is_array,
    is_list_like,
    php_float_str,
    to_float,
    to_int,
    to_number,
    to_str,
)

__all__ = [
    "http_build_query",
    "json_encode",
    "mb_capitalize",
    "mb_title",
    "number_format",
    "php_round",
    "sprintf",
    "strip_tags",
]

MAX_DECIMALS = 100  # keeps number_format/round from building absurdly long strings


_POW10 = [10.0**i for i in range(16)]


def php_round(value: float, places: int = 0) -> float:
    """PHP 8.2 ``round()``: half away from zero, with pre-rounding to 15 significant digits."""
    if not math.isfinite(value) or value == 0.0:
        return value
    places = max(-MAX_DECIMALS, min(MAX_DECIMALS, places))
    if 0 <= places < len(_POW10):
        scaled = value * _POW10[places]
        if -1e15 < scaled < 1e15 and scaled == int(scaled):
            return value  # nothing to round at this precision (the common case for prices)
    # 15 significant digits: the pre-rounding PHP applies before rounding half up.
    text = f"{value:.14e}"
    if places <= 12 and -1e15 < value < 1e15:
        # When those 15 digits already fit in ``places`` decimals (299.97 computed as
        # 99.99 * 3 = 299.97000000000003), quantizing only pads zeros, so the Decimal result is
        # exactly this text: parse it directly (Decimal costs ~2 us per call). The bounds keep
        # the result within Decimal's 28 digits, where quantize never raises.
        mantissa, _, exponent = text.partition("e")
        decimals = len(mantissa.rstrip("0")) - mantissa.index(".") - 1 - int(exponent)
        if decimals <= places:
            return float(text)
    try:
        exact = Decimal(text)
        rounded = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return value
    return float(rounded)


_SPECS = [f",.{digits}f" for digits in range(MAX_DECIMALS + 1)]
_TABLES: dict[tuple[str, str], dict[int, str]] = {}


def number_format(number: Any, decimals: int, point: str, thousands: str) -> str:
    kind = type(number)
    value = number if kind is float else float(number) if kind is int else to_float(number)
    if decimals < 0:
        decimals = 0
    elif decimals > MAX_DECIMALS:
        decimals = MAX_DECIMALS
    if decimals < 16:
        scaled = value * _POW10[decimals]
        # Already exact at this precision (the common case for prices): no rounding needed, and
        # the value is finite, so the NaN/INF check below is only needed after rounding.
        if not (-1e15 < scaled < 1e15 and scaled.is_integer()):
            value = php_round(value, decimals)
            if not math.isfinite(value):
                return php_float_str(value)
    else:
        value = php_round(value, decimals)
        if not math.isfinite(value):
            return php_float_str(value)
    if value < 0:
        text = format(-value, _SPECS[decimals])
        # PHP 8 never prints "-0": the sign only shows for a non-zero rounded value.
        sign = "-" if text.strip("0.,") else ""
    else:
        text = format(abs(value), _SPECS[decimals])  # abs: -0.0 prints as "0"
        sign = ""
    if point == "." and thousands == ",":
        return sign + text
    table = _TABLES.get((point, thousands))
    if table is None:
        table = str.maketrans({",": thousands, ".": point})
        if len(_TABLES) < 256:
            _TABLES[(point, thousands)] = table
    return sign + text.translate(table)


# --------------------------------------------------------------------------------------- sprintf

_SPEC_RE = re.compile(r"%(?:(\d+)\$)?([-+ 0]|'.)*(\d+)?(?:\.(\d+))?([bcdeEfFgGosuxX%])")
_FLAGS_RE = re.compile(r"[-+ 0]|'.")
MAX_WIDTH = 10_000


def sprintf(fmt: Any, *args: Any) -> str:
    """PHP ``sprintf`` (the ``format`` filter)."""
    template = to_str(fmt)
    out: list[str] = []
    position = 0
    next_arg = 0
    for match in _SPEC_RE.finditer(template):
        out.append(template[position : match.start()])
        position = match.end()
        conversion = match.group(5)
        if conversion == "%":
            out.append("%")
            continue
        spec = match.group(0)
        flags_text = spec[1 : spec.index(match.group(3)) if match.group(3) else None]
        if match.group(1):
            flags_text = flags_text[len(match.group(1)) + 1 :]
        flags = _FLAGS_RE.findall(flags_text)
        if match.group(1):
            index = int(match.group(1)) - 1
        else:
            index = next_arg
            next_arg += 1
        if index < 0 or index >= len(args):
            raise TemplateRuntimeError(f"format: {index + 2} arguments are required, {len(args) + 1} given")
        width = min(int(match.group(3)), MAX_WIDTH) if match.group(3) else 0
        precision = int(match.group(4)) if match.group(4) is not None else None
        out.append(_format_one(args[index], conversion, flags, width, precision))
    out.append(template[position:])
    return "".join(out)


def _format_one(arg: Any, conv: str, flags: list[str], width: int, precision: int | None) -> str:
    left = "-" in flags
    plus = "+" in flags
    pad = " "
    for flag in flags:
        if flag == "0":
            pad = "0"
        elif flag.startswith("'"):
            pad = flag[1]
    if conv == "s":
        text = to_str(arg)
        if precision is not None:
            text = text[:precision]
    elif conv in "du":
        number = to_int(arg)
        if conv == "u" and number < 0:
            number += 2**64
        text = str(number)
        if plus and number >= 0:
            text = "+" + text
    elif conv in "eEfFgG":
        number_f = float(to_number(arg, "format")) if not isinstance(arg, str) or arg else 0.0
        digits = 6 if precision is None else min(precision, 53)
        if conv in "fF":
            text = f"{number_f:.{digits}f}"
        elif conv in "eE":
            text = f"{number_f:.{digits}e}"
            mantissa, _, exponent = text.partition("e")
            text = f"{mantissa}e{int(exponent):+d}"
            if conv == "E":
                text = text.upper()
        else:
            text = f"{number_f:.{digits or 1}{conv}}"
        if plus and number_f >= 0:
            text = "+" + text
    elif conv == "x":
        text = format(to_int(arg) & 0xFFFFFFFFFFFFFFFF, "x")
    elif conv == "X":
        text = format(to_int(arg) & 0xFFFFFFFFFFFFFFFF, "X")
    elif conv == "o":
        text = format(to_int(arg) & 0xFFFFFFFFFFFFFFFF, "o")
    elif conv == "b":
        text = format(to_int(arg) & 0xFFFFFFFFFFFFFFFF, "b")
    elif conv == "c":
        return chr(to_int(arg) % 256)
    else:  # pragma: no cover - the regex only lets known conversions through
        text = ""
    if len(text) < width:
        if left:
            text = text + (" " if pad == "0" else pad) * (width - len(text))
        elif pad == "0" and text[:1] in "+-" and conv not in "s":
            text = text[0] + "0" * (width - len(text)) + text[1:]
        else:
            text = pad * (width - len(text)) + text
    return text


# --------------------------------------------------------------------------------------- json

JSON_HEX_TAG = 1
JSON_HEX_AMP = 2
JSON_HEX_APOS = 4
JSON_HEX_QUOT = 8
JSON_UNESCAPED_SLASHES = 64
JSON_PRETTY_PRINT = 128
JSON_UNESCAPED_UNICODE = 256
JSON_PRESERVE_ZERO_FRACTION = 1024


def _json_float(value: float) -> str:
    """Floats as PHP's json_encode prints them (serialize_precision = -1)."""
    if not math.isfinite(value):
        raise TemplateRuntimeError("json_encode: INF and NAN cannot be encoded")
    if value == int(value) and abs(value) < 1e15:
        return str(int(value)) + ".0"
    text = repr(value)
    if "e" in text:
        mantissa, _, exponent = text.partition("e")
        if "." not in mantissa:
            mantissa += ".0"
        text = f"{mantissa}e{int(exponent):+d}"
    return text


def _json(value: Any, ascii_only: bool, indent: str | None, level: int, out: list[str]) -> None:
    if level > 512:
        raise TemplateRuntimeError("json_encode: maximum depth exceeded")
    if isinstance(value, str):
        out.append(json.dumps(str.__str__(value), ensure_ascii=ascii_only))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, float):
        out.append(_json_float(float(value)))
    elif is_array(value):
        as_list = is_list_like(value)
        items = list(array_items(value))
        if not items:
            out.append("[]" if as_list else "{}")
            return
        out.append("[" if as_list else "{")
        inner = None if indent is None else "\n" + indent * (level + 1)
        for position, (key, item) in enumerate(items):
            if position:
                out.append(",")
            if inner is not None:
                out.append(inner)
            if not as_list:
                out.append(json.dumps(str(key), ensure_ascii=ascii_only))
                out.append(": " if indent is not None else ":")
            _json(item, ascii_only, indent, level + 1, out)
        if indent is not None:
            out.append("\n" + indent * level)
        out.append("]" if as_list else "}")
    else:
        out.append(json.dumps(to_str(value), ensure_ascii=ascii_only))


def json_encode(value: Any, options: int = 0) -> str:
    out: list[str] = []
    indent = "    " if options & JSON_PRETTY_PRINT else None
    _json(value, not options & JSON_UNESCAPED_UNICODE, indent, 0, out)
    text = "".join(out)
    if not options & JSON_UNESCAPED_SLASHES:
        text = text.replace("/", "\\/")
    if options & JSON_HEX_TAG:
        text = text.replace("<", "\\u003C").replace(">", "\\u003E")
    if options & JSON_HEX_AMP:
        text = text.replace("&", "\\u0026")
    if options & JSON_HEX_APOS:
        text = text.replace("'", "\\u0027")
    if options & JSON_HEX_QUOT:
        text = text.replace('\\"', "\\u0022")
    return text


# --------------------------------------------------------------------------------------- url


def http_build_query(data: Any, prefix: str = "") -> str:
    """PHP ``http_build_query($data, '', '&', PHP_QUERY_RFC3986)``."""
    parts: list[str] = []
    for key, value in array_items(data):
        name = _rawurlencode(to_str(key)) if not prefix else f"{prefix}%5B{_rawurlencode(to_str(key))}%5D"
        if value is None:
            continue
        if is_array(value):
            nested = http_build_query(value, name)
            if nested:
                parts.append(nested)
            continue
        if value is True:
            text = "1"
        elif value is False:
            text = "0"
        else:
            text = to_str(value)
        parts.append(f"{name}={_rawurlencode(text)}")
    return "&".join(parts)


def _rawurlencode(text: str) -> str:
    return quote(text.encode("utf-8"), safe="-_.~")


# --------------------------------------------------------------------------------------- strings

_TAG_RE = re.compile(
    r"<!--.*?-->|<\?.*?\?>|</?([a-zA-Z][a-zA-Z0-9-]*)\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>|<(?=[a-zA-Z/!?])[^>]*$",
    re.S,
)
_ALLOWED_RE = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)>")


def strip_tags(text: str, allowed: Any = None) -> str:
    """PHP ``strip_tags`` for the cases templates meet (tags, comments, unclosed tails)."""
    allowed_names: set[str] = set()
    if isinstance(allowed, str):
        allowed_names = {name.lower() for name in _ALLOWED_RE.findall(allowed)}
    elif is_array(allowed):
        allowed_names = {to_str(v).strip("<>/").lower() for _, v in array_items(allowed)}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name and name.lower() in allowed_names:
            return match.group(0)
        return ""

    return _TAG_RE.sub(replace, text)


def _is_word_char(char: str) -> bool:
    return char.isalpha() or char.isdigit() or char in "'’" or (0x300 <= ord(char) <= 0x36F)


def mb_title(text: str) -> str:
    """``mb_convert_case(MB_CASE_TITLE)``: first letter of each word upper, the rest lower."""
    out: list[str] = []
    in_word = False
    for char in text:
        if in_word:
            out.append(char.lower())
        else:
            out.append(char.title() if len(char.title()) == 1 else char.upper())
        in_word = _is_word_char(char)
    return "".join(out)


def mb_capitalize(text: str) -> str:
    if not text:
        return ""
    return text[0].upper() + text[1:].lower()
