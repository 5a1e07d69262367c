"""Where the shared test corpora are: ``$MAILCARD_CORPORA`` or ``shared/corpora`` beside the checkout.

Missing corpora are an error, never a skip: every content test is meant to run on them.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def corpora_path() -> Path:
    path = Path(os.environ.get("MAILCARD_CORPORA", REPO_ROOT.parent / "shared" / "corpora"))
    if not (path / "malicious-html.jsonl").is_file():
        raise RuntimeError(
            f"Test corpora not found at {path}: set MAILCARD_CORPORA to the directory holding "
            "malicious-html.jsonl, links.jsonl, twig-dev.jsonl and benign-html/."
        )
    return path
