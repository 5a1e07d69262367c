"""Top-level pytest fixtures: real servers shared by the whole session.

Owns only the session fixtures ``postfix`` (private Postfix + Dovecot,
:class:`tests.support.postfix.PostfixServer`), ``postgres`` (throwaway
cluster, :class:`tests.support.postgres.PostgresCluster`), ``php_reference``
(real PHP and Twig, :mod:`tests.support.php_reference`), ``chromium`` (real
Chromium, :mod:`tests.support.browser`) and ``corpora_dir``.
Keep it small: feature-specific fixtures belong in sub-directory conftests.

A missing system binary is a hard failure, never a skip: a skipped
real-server test looks green while proving nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[1]
# `tests.support` must import from any cwd and for bench/ too; tests/ has no __init__.py.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.postfix_tools import MissingBinaryError  # noqa: E402

T = TypeVar("T")

if TYPE_CHECKING:
    from tests.support.browser import ScriptWatch
    from tests.support.postfix import PostfixServer
    from tests.support.postgres import PostgresCluster


def _require(factory: Callable[[], T]) -> T:
    """Call *factory*; a missing system binary fails the test (never skips it)."""
    try:
        return factory()
    except MissingBinaryError as exc:
        missing = exc
    # Outside the `except` block, so the report has no chained-traceback noise.
    ci = os.environ.get("CI", "").lower() == "true"
    where = "CI=true: real servers are mandatory in CI. " if ci else ""
    pytest.fail(f"{where}{missing}. Run: sudo scripts/install-system-deps.sh", pytrace=False)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A private PostgreSQL cluster; ``.url`` for the default DB, ``.fresh_database()`` for more."""
    from tests.support.postgres import PostgresCluster

    cluster = _require(PostgresCluster)
    cluster.start()
    print(f"\n[postgres fixture] started in {cluster.start_seconds:.2f}s on port {cluster.port}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postfix() -> Iterator[PostfixServer]:
    """A private Postfix + Dovecot (SASL) instance; see docs/testing.md for ports and users."""
    from tests.support.postfix import start_postfix

    server = _require(start_postfix)
    print(f"\n[postfix fixture] started in {server.start_seconds:.2f}s: {server.describe()}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def php_reference() -> None:
    """Real PHP 8.2 with Twig (tests.support.php_reference): the reference for template semantics."""
    from tests.support.php_reference import check_installed

    _require(check_installed)


@pytest.fixture(scope="session")
def chromium() -> Iterator[ScriptWatch]:
    """Debian's Chromium, headless, driven by Playwright: what scripts a document runs."""
    from tests.support.browser import script_watch
    from tests.support.postfix_tools import find_binary

    _require(lambda: find_binary("chromium"))
    with script_watch() as watch:
        yield watch


@pytest.fixture(scope="session")
def corpora_dir() -> Path:
    """The shared corpora (``$MAILCARD_CORPORA`` or ``shared/corpora`` beside the checkout)."""
    from tests.support.corpora import corpora_path

    try:
        return corpora_path()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
