"""Fixtures for the validation tests: where the shared corpora are (fails loudly when missing)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def corpora_path() -> Path:
    path = Path(os.environ.get("MAILCARD_CORPORA", REPO_ROOT.parent / "shared" / "corpora"))
    if not (path / "malicious-html.jsonl").is_file():
        raise RuntimeError(
            f"Test corpora not found at {path}: set MAILCARD_CORPORA to the directory holding "
            "malicious-html.jsonl, links.jsonl and benign-html/."
        )
    return path


def load_jsonl(name: str) -> list[dict[str, Any]]:
    with (corpora_path() / name).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def benign_files() -> list[Path]:
    files = sorted((corpora_path() / "benign-html").glob("*.html"))
    if not files:
        raise RuntimeError(f"No benign-html/*.html under {corpora_path()}")
    return files


@pytest.fixture(scope="session")
def corpora_dir() -> Path:
    return corpora_path()
