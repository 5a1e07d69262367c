"""Customers through the real app: who sees and changes which customer, search, paging, validation."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from mailcard.bootstrap import Container
from mailcard.crm import NewCustomer, NewStore
from mailcard.identity import NewUser


def _login(
    container: Container, login: str, *, store_ids: tuple[int, ...] = ()
) -> tuple[dict[str, str], int]:
    user = container.users.create(
        NewUser(login=login, name=login.title(), email=f"{login}@mailcard.test", store_ids=store_ids)
    )
    token, _ = container.credentials.create_token(user.id, "tests")
    return {"Authorization": f"Bearer {token}"}, user.id


class World:
    """Two stores; Olga works in store A; customers of hers, of store A, of store B and of Ivan."""

    def __init__(self, container: Container) -> None:
        self.store_a = container.stores.create(NewStore("a", "Магазин А")).id
        self.store_b = container.stores.create(NewStore("b", "上海店")).id
        self.olga, self.olga_id = _login(container, "olga", store_ids=(self.store_a,))
        self.ivan, self.ivan_id = _login(container, "ivan")
        new = container.customers.create
        self.hers = new(NewCustomer(email="anna@example.ru", first_name="Анна", manager_id=self.olga_id)).id
        self.store_as = new(
            NewCustomer(email="boris@example.ru", first_name="Борис", store_id=self.store_a)
        ).id
        self.store_bs = new(NewCustomer(email="wei@example.cn", first_name="伟", store_id=self.store_b)).id
        self.ivans = new(NewCustomer(email="petr@example.ru", first_name="Пётр", manager_id=self.ivan_id)).id


@pytest.fixture()
def world(container: Container) -> World:
    return World(container)


def _ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_manager_lists_only_their_own_and_their_stores_customers(admin: TestClient, world: World) -> None:
    listed = admin.get("/api/customers", headers=world.olga)
    assert _ids(listed) == [world.hers, world.store_as]
    assert listed.json()["total"] == 2
    assert admin.get("/api/customers").json()["total"] == 4


def test_a_customer_not_theirs_is_missing_for_a_manager(admin: TestClient, world: World) -> None:
    for customer_id in (world.store_bs, world.ivans):
        seen = admin.get(f"/api/customers/{customer_id}", headers=world.olga)
        assert seen.status_code == 404
        assert seen.json()["code"] == "customer_not_found"
        changed = admin.patch(f"/api/customers/{customer_id}", json={"first_name": "X"}, headers=world.olga)
        assert changed.status_code == 404
    assert admin.get(f"/api/customers/{world.ivans}").json()["first_name"] == "Пётр"
    # Same answer as an id that does not exist at all: ids cannot be probed.
    assert admin.get("/api/customers/999999", headers=world.olga).json()["code"] == "customer_not_found"


def test_only_admins_delete_customers(admin: TestClient, world: World) -> None:
    refused = admin.delete(f"/api/customers/{world.hers}", headers=world.olga)
    assert refused.status_code == 403
    assert refused.json()["code"] == "admin_only"
    assert admin.delete(f"/api/customers/{world.hers}").status_code == 204
    assert admin.get(f"/api/customers/{world.hers}").status_code == 404


def test_a_managers_new_customer_is_theirs_unless_given_to_their_store(
    admin: TestClient, world: World
) -> None:
    created = admin.post("/api/customers", json={"email": "new@example.ru"}, headers=world.olga)
    assert created.status_code == 201
    assert created.json()["manager_id"] == world.olga_id

    for_store = admin.post(
        "/api/customers",
        json={"first_name": "Вера", "manager_id": None, "store_id": world.store_a},
        headers=world.olga,
    )
    assert for_store.status_code == 201
    assert for_store.json()["manager_id"] is None
    assert admin.get(f"/api/customers/{for_store.json()['id']}", headers=world.olga).status_code == 200

    someone_elses = admin.post("/api/customers", json={"manager_id": world.ivan_id}, headers=world.olga)
    assert someone_elses.status_code == 403
    assert someone_elses.json()["code"] == "not_your_customer"
    other_store = admin.post("/api/customers", json={"store_id": world.store_b}, headers=world.olga)
    assert other_store.status_code == 403
    assert other_store.json()["code"] == "not_your_store"


def test_a_manager_cannot_give_their_customer_away(admin: TestClient, world: World) -> None:
    moved = admin.patch(
        f"/api/customers/{world.hers}", json={"manager_id": world.ivan_id}, headers=world.olga
    )
    assert moved.status_code == 403
    renamed = admin.patch(
        f"/api/customers/{world.hers}", json={"last_name": "Смирнова", "tags": ["vip"]}, headers=world.olga
    )
    assert renamed.status_code == 200
    body = renamed.json()
    assert (body["first_name"], body["last_name"], body["tags"]) == ("Анна", "Смирнова", ["vip"])
    # An admin may reassign; then Olga no longer sees the customer.
    assert admin.patch(f"/api/customers/{world.hers}", json={"manager_id": world.ivan_id}).status_code == 200
    assert admin.get(f"/api/customers/{world.hers}", headers=world.olga).status_code == 404


def test_pages_follow_next_offset_to_the_end(admin: TestClient) -> None:
    for n in range(5):
        assert admin.post("/api/customers", json={"email": f"c{n}@example.com"}).status_code == 201
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = admin.get("/api/customers", params={"limit": 2, "offset": offset}).json()
        assert page["total"] == 5 and page["limit"] == 2
        seen += [c["email"] for c in page["items"]]
        offset = page["next_offset"]
    assert seen == [f"c{n}@example.com" for n in range(5)]


def test_search_finds_names_in_any_case_and_script_and_by_address(admin: TestClient, world: World) -> None:
    assert _ids(admin.get("/api/customers", params={"q": "анна"})) == [world.hers]
    assert _ids(admin.get("/api/customers", params={"q": "伟"})) == [world.store_bs]
    assert _ids(admin.get("/api/customers", params={"q": "example.ru"})) == [
        world.hers,
        world.store_as,
        world.ivans,
    ]
    assert _ids(admin.get("/api/customers", params={"q": "ПЁТР example"})) == [world.ivans]
    # A manager's search stays inside what they may see.
    assert _ids(admin.get("/api/customers", params={"q": "Пётр"}, headers=world.olga)) == []
    # LIKE wildcards are searched for literally.
    assert _ids(admin.get("/api/customers", params={"q": "%"})) == []


def test_customer_fields_are_cleaned_and_bad_ones_refused_with_a_code(admin: TestClient) -> None:
    created = admin.post(
        "/api/customers",
        json={
            "email": "  li.na@example.cn ",
            "first_name": "  李   娜 ",
            "locale": "zh_cn",
            "phone": "+86 21 1234-5678",
            "tags": ["VIP", "vip", "new"],
            "custom_fields": {"birthday": "1990-05-01", "loyalty_level": 3, "children": ["Ли", "Мин"]},
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "li.na@example.cn"
    assert body["first_name"] == "李 娜"
    assert body["locale"] == "zh-CN"
    assert body["tags"] == ["VIP", "new"]
    assert body["custom_fields"]["children"] == ["Ли", "Мин"]

    no_address = admin.post("/api/customers", json={"first_name": "Без почты"})
    assert no_address.status_code == 201 and no_address.json()["email"] is None

    for bad, code in [
        ({"email": "not-an-address"}, "invalid_address"),
        ({"locale": "russian!"}, "invalid_locale"),
        ({"phone": "call me"}, "invalid_phone"),
        ({"manager_id": 4242}, "manager_not_found"),
        ({"store_id": 4242}, "store_not_found"),
        ({"custom_fields": {"bad name": 1}}, "invalid_request"),
        ({"firstName": "typo"}, "invalid_request"),
    ]:
        refused = admin.post("/api/customers", json=bad)
        assert refused.status_code == 422, bad
        assert refused.json()["code"] == code, refused.json()


def test_external_id_is_unique(admin: TestClient) -> None:
    assert admin.post("/api/customers", json={"external_id": "crm-1"}).status_code == 201
    taken = admin.post("/api/customers", json={"external_id": "crm-1"})
    assert taken.status_code == 409
    assert taken.json()["code"] == "external_id_taken"


def test_patch_null_clears_and_absent_keeps(admin: TestClient) -> None:
    created = admin.post(
        "/api/customers", json={"email": "a@example.com", "phone": "+7 900 000-00-00"}
    ).json()
    patched = admin.patch(f"/api/customers/{created['id']}", json={"email": None}).json()
    assert patched["email"] is None
    assert patched["phone"] == "+7 900 000-00-00"


def test_out_of_range_ids_are_client_errors_not_crashes(admin: TestClient) -> None:
    assert admin.get(f"/api/customers/{2**63}").status_code == 422
    assert admin.post("/api/customers", json={"manager_id": 2**40}).status_code == 422
    # Python's JSON reader accepts NaN; it must not reach the database or the JSON answer.
    not_a_number = admin.post(
        "/api/customers",
        content=b'{"custom_fields": {"n": NaN}}',
        headers={"Content-Type": "application/json"},
    )
    assert not_a_number.status_code == 422


def test_template_context_uses_crm_names(container: Container) -> None:
    customer = container.customers.create(
        NewCustomer(
            email="anna@example.ru", first_name="Анна", last_name="Иванова", custom_fields={"city": "Казань"}
        )
    )
    context = customer.to_context()
    assert set(context) == {
        "id",
        "externalId",
        "email",
        "firstName",
        "lastName",
        "patronymic",
        "locale",
        "phone",
        "customFields",
        "tags",
    }
    assert context["customFields"] == {"city": "Казань"}


def test_sending_to_a_customer_without_address_gives_a_clear_error(container: Container) -> None:
    from mailcard.errors import InputError

    customer = container.customers.create(NewCustomer(first_name="Анна"))
    with pytest.raises(InputError) as raised:
        customer.require_email()
    assert raised.value.code == "customer_has_no_email"
    assert "Анна" in raised.value.message
