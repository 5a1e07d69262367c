"""Text in and out of the CLI and the JSON-lines modes.

* ``json_text``: one JSON document as text any strict parser reads and any UTF-8 stream carries.
  ``json.dumps`` writes ``Infinity`` and ``NaN`` (not JSON) for non-finite floats, and a lone
  surrogate from undecodable input as itself (not UTF-8). Scripts parse what the CLI prints with jq
  and the like, so such values become ``null`` and such text its ``\\uXXXX`` escape.
* ``is_unicode``: False for text holding a lone surrogate, which is how Python hands over bytes that
  are not UTF-8 (arguments, standard input) and what no UTF-8 file, database or message can hold.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["is_unicode", "json_text"]


def json_text(data: Any) -> str:
    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False, default=str)
    except ValueError:  # a non-finite float somewhere
        text = json.dumps(_finite(data), ensure_ascii=False, allow_nan=False, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: escaped, the text stays valid JSON and UTF-8
        text = json.dumps(json.loads(text), ensure_ascii=True)
    return text


def _finite(data: Any) -> Any:
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(value) for value in data]
    return data


def is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
