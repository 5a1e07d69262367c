"""Fixtures for the content-helper tests: the shared corpora directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def corpora_dir() -> Path:
    """Shared corpora (``MAILCARD_CORPORA`` or ``<repo>/../shared/corpora``); fails loudly if missing."""
    path = Path(os.environ.get("MAILCARD_CORPORA", REPO_ROOT.parent / "shared" / "corpora"))
    if not (path / "benign-html").is_dir():
        pytest.fail(
            f"corpora directory {path} (with benign-html/) is missing; set MAILCARD_CORPORA", pytrace=False
        )
    return path
