"""Stores through the real app: everyone reads, admins write; a new sender address must be proved again."""

from __future__ import annotations

from fastapi.testclient import TestClient

from mailcard.bootstrap import Container
from mailcard.identity import NewUser


def _manager(container: Container) -> dict[str, str]:
    user = container.users.create(NewUser(login="olga", name="Ольга", email="olga@mailcard.test"))
    token, _ = container.credentials.create_token(user.id, "tests")
    return {"Authorization": f"Bearer {token}"}


def _create(admin: TestClient, **fields: object) -> dict[str, object]:
    body = {"code": "msk-1", "name": "Ромашка на Тверской", **fields}
    response = admin.post("/api/stores", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def test_managers_read_stores_but_only_admins_change_them(admin: TestClient, container: Container) -> None:
    store = _create(admin, sender_email="shop@romashka.example", sender_name="Ромашка")
    olga = _manager(container)
    listed = admin.get("/api/stores", headers=olga).json()
    assert [s["code"] for s in listed["items"]] == ["msk-1"]
    assert admin.get(f"/api/stores/{store['id']}", headers=olga).json()["name"] == "Ромашка на Тверской"
    for refused in (
        admin.post("/api/stores", json={"code": "x", "name": "X"}, headers=olga),
        admin.patch(f"/api/stores/{store['id']}", json={"name": "X"}, headers=olga),
        admin.delete(f"/api/stores/{store['id']}", headers=olga),
    ):
        assert refused.status_code == 403
        assert refused.json()["code"] == "admin_only"
    assert admin.get(f"/api/stores/{store['id']}").json()["name"] == "Ромашка на Тверской"


def test_store_codes_are_unique_and_well_formed(admin: TestClient) -> None:
    _create(admin)
    taken = admin.post("/api/stores", json={"code": "msk-1", "name": "Другой"})
    assert taken.status_code == 409
    assert taken.json()["code"] == "store_code_taken"
    assert admin.post("/api/stores", json={"code": "with space", "name": "X"}).status_code == 422
    assert admin.post("/api/stores", json={"code": "ok", "name": "X", "sender_email": "nope"}).json()[
        "code"
    ] == ("invalid_address")
    missing_account = admin.post("/api/stores", json={"code": "ok", "name": "X", "smtp_account_id": 77})
    assert missing_account.json()["code"] == "smtp_account_not_found"


def test_a_new_sender_address_must_be_confirmed_again(admin: TestClient, container: Container) -> None:
    store = _create(admin, sender_email="shop@romashka.example")
    store_id = int(str(store["id"]))
    assert store["sender_confirmed"] is False

    container.stores.mark_sender_confirmed(store_id, "SHOP@romashka.example")
    assert admin.get(f"/api/stores/{store_id}").json()["sender_confirmed"] is True

    renamed = admin.patch(f"/api/stores/{store_id}", json={"name": "Ромашка", "sender_name": "Магазин"})
    assert renamed.json()["sender_confirmed"] is True  # same address: the proof still holds

    moved = admin.patch(f"/api/stores/{store_id}", json={"sender_email": "new@romashka.example"})
    assert moved.status_code == 200
    assert moved.json()["sender_confirmed"] is False
    assert moved.json()["sender_confirmed_at"] is None

    # A proof of the old address, arriving late, does not confirm the new one.
    container.stores.mark_sender_confirmed(store_id, "shop@romashka.example")
    assert admin.get(f"/api/stores/{store_id}").json()["sender_confirmed"] is False


def test_patch_cannot_null_a_stores_code_or_name(admin: TestClient) -> None:
    store = _create(admin)
    refused = admin.patch(f"/api/stores/{store['id']}", json={"name": None})
    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid_request"


def test_deleting_a_store_keeps_its_customers(admin: TestClient) -> None:
    store = _create(admin)
    customer = admin.post("/api/customers", json={"first_name": "Анна", "store_id": store["id"]}).json()
    assert admin.delete(f"/api/stores/{store['id']}").status_code == 204
    assert admin.get(f"/api/stores/{store['id']}").json()["code"] == "store_not_found"
    assert admin.get(f"/api/customers/{customer['id']}").json()["store_id"] is None


def test_store_template_context(container: Container) -> None:
    from mailcard.crm import NewStore

    store = container.stores.create(
        NewStore("sh", "上海店", sender_email="shop@example.cn", sender_name="上海店")
    )
    assert store.to_context() == {
        "id": store.id,
        "code": "sh",
        "name": "上海店",
        "email": "shop@example.cn",
        "senderName": "上海店",
    }
