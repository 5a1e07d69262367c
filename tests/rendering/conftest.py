"""Fixtures for the template engine tests: the corpus directory and a shared engine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailcard.rendering import TemplateEngine

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def corpora_dir() -> Path:
    path = Path(os.environ.get("MAILCARD_CORPORA", REPO_ROOT.parent / "shared" / "corpora"))
    if not (path / "twig-dev.jsonl").is_file():
        pytest.fail(f"corpus directory {path} has no twig-dev.jsonl (set MAILCARD_CORPORA)")
    return path


@pytest.fixture(scope="session")
def engine() -> TemplateEngine:
    return TemplateEngine()
