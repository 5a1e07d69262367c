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
import unicodedata
from typing import Any, Final
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


_POW10 = [float(10**i) for i in range(23)]  # exact: PHP's php_intpow10 table
_DBL_DIG = 15


def _pow10(power: int) -> float:
    """PHP's ``php_intpow10``: exact from a table up to 1e22, else ``pow`` (inf when it overflows)."""
    if 0 <= power <= 22:
        return _POW10[power]
    try:
        return 10.0**power
    except OverflowError:
        return math.inf


def _round_half_up(value: float) -> float:
    """PHP's ``php_round_helper`` for PHP_ROUND_HALF_UP: half away from zero."""
    return float(math.floor(value + 0.5)) if value >= 0.0 else float(math.ceil(value - 0.5))


def php_round(value: float, places: int = 0) -> float:
    """PHP 8.2 ``round()`` (``_php_math_round``), step by step in the same float arithmetic.

    PHP first rounds the value to the 15 significant digits a double holds, so 1.955 (stored as
    1.95499999999999996) rounds to 1.96; when the places asked for go beyond those digits, the value
    comes back unchanged. Checked against PHP 8.2 on 30,000 values (tests/rendering/test_phpround.py).
    """
    if not math.isfinite(value) or value == 0.0:
        return value
    precision_places = 14 - math.floor(math.log10(abs(value)))
    scale = _pow10(abs(places))
    if precision_places > places and precision_places - 15 < places:
        use = max(precision_places, -4 * _DBL_DIG)
        basic = value * _pow10(use) if use >= 0 else value / _pow10(-use)
        scaled = _round_half_up(basic)
        shift = max(-4 * _DBL_DIG, places - use)
        scaled = scaled / _pow10(abs(shift))
    else:
        scaled = value * scale if places >= 0 else value / scale
        if abs(scaled) >= 1e15:
            return value  # beyond a double's precision: nothing to round
    scaled = _round_half_up(scaled)
    if abs(places) < 23:
        return scaled / scale if places > 0 else scaled * scale
    # As PHP does for such places: through text, which cannot overflow into a wrong value.
    result = float(f"{scaled:15f}e{-places}")
    return result if math.isfinite(result) else value


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
        if precision is not None and len(text) > precision // 4:
            # PHP counts bytes: "%.2s" of "Итого" is "И". A cut inside a character drops its
            # remaining bytes (PHP would print them as invalid UTF-8).
            text = text.encode("utf-8", "surrogatepass")[:precision].decode("utf-8", "ignore")
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
    # The width counts bytes too: "%-10s" leaves "Итого" (ten bytes in UTF-8) unpadded.
    size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    if size < width:
        if left:
            text = text + (" " if pad == "0" else pad) * (width - size)
        elif pad == "0" and text[:1] in "+-" and conv not in "s":
            text = text[0] + "0" * (width - size) + text[1:]
        else:
            text = pad * (width - size) + text
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


def _json_float(value: float, zero_fraction: bool) -> str:
    """Floats as PHP's json_encode prints them (serialize_precision = -1): the shortest digits that
    read back the same, ``1500.0`` as ``1500`` unless JSON_PRESERVE_ZERO_FRACTION (``zero_fraction``),
    and an exponent only below 1e-4 or from 1e17 up (Python's repr already uses one from 1e16).
    """
    if not math.isfinite(value):
        raise TemplateRuntimeError("json_encode: INF and NAN cannot be encoded")
    text = repr(value)
    if "e" not in text:
        if text.endswith(".0") and not zero_fraction:
            return text[:-2]
        return text
    mantissa, _, exponent = text.partition("e")
    if int(exponent) == 16:
        digits = str(int(value))  # every float this large is a whole number
        return digits + ".0" if zero_fraction else digits
    if "." not in mantissa:
        mantissa += ".0"
    return f"{mantissa}e{int(exponent):+d}"


def _json(
    value: Any, ascii_only: bool, indent: str | None, level: int, out: list[str], zero_fraction: bool
) -> None:
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
        out.append(_json_float(float(value), zero_fraction))
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
            _json(item, ascii_only, indent, level + 1, out, zero_fraction)
        if indent is not None:
            out.append("\n" + indent * level)
        out.append("]" if as_list else "}")
    else:
        out.append(json.dumps(to_str(value), ensure_ascii=ascii_only))


def json_encode(value: Any, options: int = 0) -> str:
    out: list[str] = []
    indent = "    " if options & JSON_PRETTY_PRINT else None
    _json(
        value,
        not options & JSON_UNESCAPED_UNICODE,
        indent,
        0,
        out,
        bool(options & JSON_PRESERVE_ZERO_FRACTION),
    )
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


# Unicode's Case_Ignorable characters outside the categories below: Word_Break MidLetter, MidNumLet
# and Single_Quote (apostrophes, the full stop, the middle dot, colons).
_CASE_IGNORABLE_MARKS: Final = frozenset(
    "'.:\u00b7\u0387\u05f4\u2018\u2019\u2024\u2027\ufe13\ufe52\ufe55\uff07\uff0e\uff1a"
)
_CASE_IGNORABLE_CATEGORIES: Final = frozenset({"Mn", "Me", "Cf", "Lm", "Sk"})


def _case_ignorable(char: str) -> bool:
    return char in _CASE_IGNORABLE_MARKS or unicodedata.category(char) in _CASE_IGNORABLE_CATEGORIES


def _cased(char: str) -> bool:
    return char.isupper() or char.islower() or char.istitle()


def mb_title(text: str) -> str:
    """``mb_convert_case(MB_CASE_TITLE)`` as PHP 8.2 does it: a letter is title-cased unless the last
    character before it that is not case-ignorable is a cased letter; then it is lower-cased.

    So "o'neil" is "O'neil" (the apostrophe is case-ignorable), "jean-luc" is "Jean-Luc", "1st" is
    "1St" (a digit is not cased), "尊敬的vip" is "尊敬的Vip" and "ß" starts a word as "Ss".
    """
    out: list[str] = []
    in_word = False
    for char in text:
        out.append(char.lower() if in_word else char.title())
        if not _case_ignorable(char):
            in_word = _cased(char)
    return "".join(out)


def mb_capitalize(text: str) -> str:
    if not text:
        return ""
    return text[0].upper() + text[1:].lower()
