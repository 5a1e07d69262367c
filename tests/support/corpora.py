"""Where the shared test corpora are: ``$MAILCARD_CORPORA`` or ``shared/corpora`` beside the checkout.

Missing corpora are an error, never a skip: every content test is meant to run on them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


def corpora_path() -> Path:
    path = Path(os.environ.get("MAILCARD_CORPORA", REPO_ROOT.parent / "shared" / "corpora"))
    if not (path / "malicious-html.jsonl").is_file():
        raise RuntimeError(
            f"Test corpora not found at {path}: set MAILCARD_CORPORA to the directory holding "
            "malicious-html.jsonl, links.jsonl, twig-dev.jsonl and benign-html/."
        )
    return path


def load_jsonl(name: str) -> list[dict[str, Any]]:
    """The records of corpus file ``name`` (iterating the file splits lines on line ends only:
    ``str.splitlines`` would also split on the U+2028 some vectors hold)."""
    with (corpora_path() / name).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def benign_files() -> list[Path]:
    files = sorted((corpora_path() / "benign-html").glob("*.html"))
    if not files:
        raise RuntimeError(f"No benign-html/*.html under {corpora_path()}")
    return files
