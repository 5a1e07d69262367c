"""Login, sessions with CSRF, API tokens and their revocation, through the real app."""

from __future__ import annotations

from fastapi.testclient import TestClient

from mailcard.bootstrap import Container
from mailcard.identity import NewUser

from .conftest import ADMIN_PASSWORD


def _manager(container: Container, login: str = "olga") -> None:
    container.users.create(
        NewUser(login=login, name="Ольга Смирнова", email=f"{login}@mailcard.test", password="manager-pass-1")
    )


def test_unauthenticated_calls_get_401_problem(client: TestClient) -> None:
    response = client.get("/api/me")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not_authenticated"


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(
    client: TestClient, container: Container
) -> None:
    _manager(container)
    for login, password in [("olga", "wrong-password"), ("nobody", "manager-pass-1")]:
        response = client.post("/api/auth/login", json={"login": login, "password": password})
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_credentials"
        assert "mailcard_session" not in response.cookies


def test_session_login_needs_csrf_token_for_changes(client: TestClient, container: Container) -> None:
    _manager(container)
    login = client.post("/api/auth/login", json={"login": "olga", "password": "manager-pass-1"})
    assert login.status_code == 200
    assert "httponly" in login.headers["set-cookie"].lower()
    csrf = login.json()["csrf_token"]
    assert client.get("/api/me").json()["login"] == "olga"

    refused = client.post("/api/tokens", json={"name": "crm"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_failed"

    created = client.post("/api/tokens", json={"name": "crm"}, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201
    assert created.json()["token"].startswith("mct_")

    assert client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/me").status_code == 401


def test_api_token_works_until_revoked_and_is_never_listed(client: TestClient, admin_token: str) -> None:
    headers = {"Authorization": f"Bearer {admin_token}"}
    created = client.post("/api/tokens", json={"name": "integration"}, headers=headers).json()
    token = created["token"]
    listed = client.get("/api/tokens", headers=headers)
    assert token not in listed.text
    assert all("token" not in item for item in listed.json())

    other = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/me", headers=other).json()["login"] == "admin"
    assert client.delete(f"/api/tokens/{created['id']}", headers=headers).status_code == 204
    refused = client.get("/api/me", headers=other)
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_token"


def test_password_is_stored_as_argon2_and_rehash_keeps_login(container: Container) -> None:
    from sqlalchemy import select

    from mailcard.db.schema import users

    container.users.create(NewUser(login="a", name="A", email="a@mailcard.test", password=ADMIN_PASSWORD))
    with container.engine.connect() as conn:
        stored = conn.execute(select(users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and ADMIN_PASSWORD not in stored
    assert container.users.authenticate("a", ADMIN_PASSWORD).login == "a"


def test_manager_cannot_manage_users_but_can_edit_own_name(client: TestClient, container: Container) -> None:
    _manager(container)
    user = container.users.by_login("olga")
    assert user is not None
    token, _ = container.credentials.create_token(user.id, "t")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/users", headers=headers).json()["code"] == "admin_only"
    promoted = client.patch(f"/api/users/{user.id}", json={"role": "admin"}, headers=headers)
    assert promoted.status_code == 403
    renamed = client.patch(f"/api/users/{user.id}", json={"name": "Ольга С."}, headers=headers)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Ольга С."


def test_validation_errors_are_problems_and_never_echo_the_password(admin: TestClient) -> None:
    response = admin.post(
        "/api/users", json={"login": "x", "name": "X", "email": "x@mailcard.test", "password": "s3cr3t!"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_request"
    assert "s3cr3t!" not in response.text
