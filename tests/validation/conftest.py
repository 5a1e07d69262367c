"""Fixtures for the validation tests: the shared corpora (fails loudly when missing)."""

from __future__ import annotations

from tests.support.corpora import benign_files, load_jsonl

__all__ = ["benign_files", "load_jsonl"]
