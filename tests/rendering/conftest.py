"""Fixtures for the template engine tests: a shared engine (the corpus directory is the root fixture)."""

from __future__ import annotations

import pytest

from mailcard.rendering import TemplateEngine


@pytest.fixture(scope="session")
def engine() -> TemplateEngine:
    return TemplateEngine()
