"""Real PHP as the reference for the template engine's PHP semantics (pytest-independent).

This module owns:

* :func:`twig_render` — renders JSON-lines requests with real Twig (Debian's ``php-twig``, run by
  ``twig_reference.php`` beside this file) and returns one result dict per request, in order;
* :func:`php_lines` — runs a PHP snippet that reads stdin and prints one line per input line (used to
  compare ``round`` and ``number_format`` value by value).

Both raise :class:`MissingBinaryError` when PHP or Twig is not installed
(``scripts/install-system-deps.sh`` installs ``php-cli``, ``php-mbstring`` and ``php-twig``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.support.postfix_tools import MissingBinaryError

TWIG_AUTOLOAD = Path("/usr/share/php/Twig/autoload.php")
_RENDERER = Path(__file__).with_name("twig_reference.php")


def _php() -> str:
    php = shutil.which("php")
    if php is None:
        raise MissingBinaryError("php is not installed (Debian package php-cli)")
    return php


def check_installed() -> None:
    """Raise :class:`MissingBinaryError` unless PHP with mbstring and Twig are installed."""
    php = _php()
    modules = subprocess.run([php, "-m"], capture_output=True, text=True, check=True).stdout.split()
    if "mbstring" not in modules:
        raise MissingBinaryError("PHP's mbstring extension is not installed (Debian package php-mbstring)")
    if not TWIG_AUTOLOAD.exists():
        raise MissingBinaryError(f"Twig is not installed ({TWIG_AUTOLOAD}; Debian package php-twig)")


def twig_render(requests: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """What real Twig renders for each ``{"id", "template", "context", "config"}`` request."""
    check_installed()
    lines = "".join(json.dumps(request, ensure_ascii=False) + "\n" for request in requests)
    completed = subprocess.run(
        [_php(), str(_RENDERER)], input=lines, capture_output=True, text=True, check=True, timeout=300
    )
    results = [json.loads(line) for line in completed.stdout.splitlines()]
    if len(results) != len(requests):
        raise RuntimeError(
            f"Twig answered {len(results)} of {len(requests)} requests: {completed.stderr[-2000:]}"
        )
    return results


def php_lines(script: str, lines: Sequence[str]) -> list[str]:
    """Run ``script`` (PHP code without ``<?php``) with ``lines`` on stdin; its output lines."""
    completed = subprocess.run(
        [_php(), "-r", script],
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return completed.stdout.splitlines()
