"""Fixtures for the delivery tests: a throwaway PKI for the scripted server's TLS."""

from __future__ import annotations

import pytest
from tests.support.scripted_smtp import TestPki, make_test_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """A CA and a certificate for localhost / 127.0.0.1."""
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """An unrelated CA: trusting it must not make the server's certificate valid."""
    return make_test_pki(tmp_path_factory.mktemp("other-pki"))
