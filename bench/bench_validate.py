"""Throughput of the content validator over the benign e-mail templates.

Prints ONE JSON line: the validator's MB/s (``check_content`` on each template's HTML part, with a
subject and text part) and, as the reference measured in the same run on the same inputs, a bare
lexbor parse of the HTML. Best of several rounds for both, so noise from other processes hurts both
figures alike. Usage: ``.venv/bin/python bench/bench_validate.py [--rounds N]``; corpora from
``$MAILCARD_CORPORA`` (default ``../shared/corpora``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

from mailcard.validation import ContentToCheck, check_content

REPO_ROOT = Path(__file__).resolve().parents[1]


def load_inputs() -> list[str]:
    corpora = Path(os.environ.get("MAILCARD_CORPORA", REPO_ROOT.parent / "shared" / "corpora"))
    files = sorted((corpora / "benign-html").glob("*.html"))
    if not files:
        raise SystemExit(f"no benign-html/*.html under {corpora}")
    return [path.read_text(encoding="utf-8") for path in files]


def best_seconds(run: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    documents = load_inputs()
    megabytes = sum(len(doc.encode("utf-8")) for doc in documents) / 1e6
    contents = [
        ContentToCheck(subject="Your order", preheader="Thanks!", html=doc, text="Thanks!")
        for doc in documents
    ]

    def validate() -> None:
        for content in contents:
            check_content(content)

    def parse_only() -> None:
        for doc in documents:
            LexborHTMLParser(doc)

    validate()  # warm-up: loads the shortener list, compiles regular expressions
    parse_only()
    validate_s = best_seconds(validate, args.rounds)
    parse_s = best_seconds(parse_only, args.rounds)
    mb_per_s = megabytes / validate_s
    reference = megabytes / parse_s
    print(
        json.dumps(
            {
                "scenario": "validate",
                "mb_per_s": round(mb_per_s, 1),
                "reference": "selectolax parse only",
                "reference_mb_per_s": round(reference, 1),
                "ratio": round(mb_per_s / reference, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
