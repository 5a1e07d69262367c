"""Fixtures for API tests: a real app on a real (SQLite, temporary) database, and logged-in clients.

The app is the production ``create_app`` over ``bootstrap.build``; only the data directory differs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mailcard.api.app import Services, create_app
from mailcard.bootstrap import Container, build
from mailcard.identity import NewUser, Role
from mailcard.settings import Settings

ADMIN_PASSWORD = "admin-pass-123"
MANAGER_PASSWORD = "manager-pass-123"


@pytest.fixture()
def container(tmp_path: Path) -> Iterator[Container]:
    built = build(Settings(data_dir=tmp_path, devinbox_port=1))
    try:
        yield built
    finally:
        built.dispose()


@pytest.fixture()
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container, Services(worker=False))) as test_client:
        yield test_client


@pytest.fixture()
def admin_token(container: Container) -> str:
    user = container.users.create(
        NewUser(
            login="admin", name="Admin", email="admin@mailcard.test", role=Role.ADMIN, password=ADMIN_PASSWORD
        )
    )
    token, _ = container.credentials.create_token(user.id, "tests")
    return token


@pytest.fixture()
def admin(client: TestClient, admin_token: str) -> TestClient:
    client.headers["Authorization"] = f"Bearer {admin_token}"
    return client
