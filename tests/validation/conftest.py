"""Fixtures for the validation tests: where the shared corpora are (fails loudly when missing)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.corpora import corpora_path


def load_jsonl(name: str) -> list[dict[str, Any]]:
    with (corpora_path() / name).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def benign_files() -> list[Path]:
    files = sorted((corpora_path() / "benign-html").glob("*.html"))
    if not files:
        raise RuntimeError(f"No benign-html/*.html under {corpora_path()}")
    return files
