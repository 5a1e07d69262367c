"""``round`` and ``number_format`` against real PHP 8.2, value by value.

Prices in e-mails go through both; PHP pre-rounds to 15 significant digits (1.955 rounds to 1.96)
and leaves values alone when the places asked for go beyond a double's precision. 30,000 values
of every kind (half-way prices, thirds, tiny and huge magnitudes, places from -25 to 25) must come
out bit for bit as PHP gives them.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from tests.support.php_reference import php_lines

from mailcard.rendering.phpformat import number_format, php_round

_SPECIAL = [0.1 + 0.2, 1.005, 2.675, 1.955, 0.285, 5.055, 1.45, 2.5, -2.5, 0.5, -0.5, 1e15 + 0.3,
            4503599627370495.5, 0.49999999999999994, 1.700000000000145, 99.99 * 3, 19.99 * 7, -0.0]  # fmt: skip


def _cases(count: int = 30_000, seed: int = 11) -> list[tuple[float, int]]:
    rng = random.Random(seed)
    cases: list[tuple[float, int]] = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.5:  # prices ending in 5, rounded to the digit before it
            digits = rng.randint(0, 8)
            whole = rng.randint(0, 10 ** rng.randint(1, 9))
            value = float(f"{whole}.{rng.randint(0, 10**digits - 1):0{digits}d}5") if digits else whole + 0.5
            cases.append((value * rng.choice([1, -1]), digits))
        elif kind < 0.7:  # sums and products of prices
            value = rng.randint(-(10**7), 10**7) * rng.choice([0.01, 0.001, 0.1, 1.1, 0.07, 99.99, 0.3])
            cases.append((value, rng.randint(-4, 6)))
        elif kind < 0.85:  # any magnitude, any places
            cases.append((rng.uniform(-1, 1) * 10 ** rng.randint(-20, 25), rng.randint(-25, 25)))
        else:
            cases.append((rng.choice(_SPECIAL), rng.randint(-3, 20)))
    return cases


def _differences(
    cases: list[tuple[float, int]],
    php_call: str,
    ours: Callable[[float, int], object],
    read: Callable[[str], object],
) -> list[str]:
    """Where ``ours(value, places)`` differs from PHP's ``php_call`` (an expression of $v and $p,
    printed one per line and turned back into a value by ``read``)."""
    script = (
        'while (($l = fgets(STDIN)) !== false) { [$v, $p] = explode(" ", trim($l)); '
        f'$v = (float) $v; $p = (int) $p; echo {php_call}, "\\n"; }}'
    )
    expected = php_lines(script, [f"{value!r} {places}" for value, places in cases])
    return [
        f"{value!r}, {places}: ours {ours(value, places)!r}, PHP {php}"
        for (value, places), php in zip(cases, expected, strict=True)
        if ours(value, places) != read(php)
    ]


@pytest.mark.usefixtures("php_reference")
def test_round_is_php_round() -> None:
    cases = _cases()
    wrong = _differences(cases, "var_export(round($v, $p), true)", php_round, float)
    assert wrong == [], f"{len(wrong)} of {len(cases)} differ, e.g.\n" + "\n".join(wrong[:10])


@pytest.mark.usefixtures("php_reference")
def test_number_format_is_php_number_format() -> None:
    cases = [(value, max(0, min(30, places))) for value, places in _cases(seed=12)]
    wrong = _differences(
        cases, "number_format($v, $p, ',', ' ')", lambda v, p: number_format(v, p, ",", " "), str
    )
    assert wrong == [], f"{len(wrong)} of {len(cases)} differ, e.g.\n" + "\n".join(wrong[:10])
