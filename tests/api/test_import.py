"""Bulk import of customers, stores and users, as JSON and as the CSV files people export from Excel."""

from __future__ import annotations

import codecs
from typing import Any

from fastapi.testclient import TestClient

from mailcard.bootstrap import Container
from mailcard.crm import NewStore
from mailcard.identity import NewUser

CSV = {"Content-Type": "text/csv"}


def _csv(text: str, *, bom: bool = True, encoding: str = "utf-8") -> bytes:
    data = text.replace("\n", "\r\n").encode(encoding)
    return (codecs.BOM_UTF8 if bom and encoding == "utf-8" else b"") + data


def _by_email(admin: TestClient) -> dict[str, dict[str, Any]]:
    items = admin.get("/api/customers", params={"limit": 500}).json()["items"]
    return {c["email"]: c for c in items}


def test_csv_with_bom_cyrillic_and_chinese_imports_and_reports_the_bad_row(
    admin: TestClient, container: Container
) -> None:
    store = container.stores.create(NewStore("msk", "Москва"))
    olga = container.users.create(NewUser(login="olga", name="Ольга", email="olga@mailcard.test"))
    data = _csv(
        "external_id,email,first_name,last_name,patronymic,locale,phone,tags,manager_login,store_code,custom.birthday\n"
        "A-1,anna@example.ru,Анна,Иванова,Сергеевна,ru,+7 495 123-45-67,vip;новый,olga,msk,1990-05-01\n"
        "A-2,not-an-address,Пётр,Петров,,ru,,,,,\n"
        'A-3,wang@example.cn,伟,王,,zh-CN,,"老客户",,msk,\n'
    )
    response = admin.post("/api/customers/import", content=data, headers=CSV)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["created"], result["updated"]) == (2, 0)
    # The header is row 1, as in the spreadsheet: the bad address is on row 3.
    assert result["errors"] == [
        {"row": 3, "code": "invalid_address", "message": result["errors"][0]["message"]}
    ]
    assert "not-an-address" in result["errors"][0]["message"]

    customers = _by_email(admin)
    assert set(customers) == {"anna@example.ru", "wang@example.cn"}
    anna = customers["anna@example.ru"]
    assert (anna["first_name"], anna["last_name"], anna["patronymic"]) == ("Анна", "Иванова", "Сергеевна")
    assert anna["tags"] == ["vip", "новый"]
    assert anna["custom_fields"] == {"birthday": "1990-05-01"}
    assert (anna["manager_id"], anna["store_id"]) == (olga.id, store.id)
    wang = customers["wang@example.cn"]
    assert (wang["first_name"], wang["last_name"], wang["locale"], wang["tags"]) == (
        "伟",
        "王",
        "zh-CN",
        ["老客户"],
    )


def test_reimport_updates_by_external_id_and_empty_cells_keep_values(admin: TestClient) -> None:
    first = "external_id,email,first_name,phone\nA-1,anna@example.ru,Анна,+7 900 000-00-00\n"
    assert admin.post("/api/customers/import", content=_csv(first), headers=CSV).json()["created"] == 1
    again = "external_id,email,first_name,phone\nA-1,anna.new@example.ru,Анна Мария,\nA-2,boris@example.ru,Борис,\n"
    result = admin.post("/api/customers/import", content=_csv(again), headers=CSV).json()
    assert (result["created"], result["updated"], result["errors"]) == (1, 1, [])
    anna = _by_email(admin)["anna.new@example.ru"]
    assert anna["first_name"] == "Анна Мария"
    assert anna["phone"] == "+7 900 000-00-00"


def test_excel_semicolon_csv_and_utf16_are_read(admin: TestClient) -> None:
    semicolons = 'email;first_name;tags\nanna@example.ru;Анна;"vip;новый"\n'
    result = admin.post("/api/customers/import", content=_csv(semicolons, bom=False), headers=CSV).json()
    assert result["created"] == 1
    assert _by_email(admin)["anna@example.ru"]["tags"] == ["vip", "новый"]

    utf16 = "email\tfirst_name\nwang@example.cn\t伟\n".encode("utf-16")
    assert admin.post("/api/customers/import", content=utf16, headers=CSV).json()["created"] == 1
    assert _by_email(admin)["wang@example.cn"]["first_name"] == "伟"


def test_a_row_failing_half_way_leaves_nothing_behind(admin: TestClient) -> None:
    body = {
        "customers": [
            {"external_id": "A-1", "email": "anna@example.ru", "store_code": "no-such-store"},
            {"external_id": "A-2", "email": "boris@example.ru", "manager_login": "nobody"},
            {"external_id": "A-3", "email": "vera@example.ru"},
            "not an object",
            {"email": "x@example.ru", "unknown": 1},
        ]
    }
    result = admin.post("/api/customers/import", json=body).json()
    assert result["created"] == 1
    assert [(e["row"], e["code"]) for e in result["errors"]] == [
        (1, "store_not_found"),
        (2, "manager_not_found"),
        (4, "invalid_row"),
        (5, "invalid_row"),
    ]
    assert set(_by_email(admin)) == {"vera@example.ru"}


def test_an_unclosed_quote_refuses_the_file_instead_of_swallowing_the_rows_after_it(
    admin: TestClient,
) -> None:
    unclosed = _csv(
        'email,first_name,custom.city\nanna@example.ru,Анна,"Москва\nboris@example.ru,Борис,Тверь\n'
        "vera@example.ru,Вера,Казань\n"
    )
    refused = admin.post("/api/customers/import", content=unclosed, headers=CSV)
    assert refused.status_code == 422
    error = refused.json()
    assert error["code"] == "import_bad_csv" and error["row"] == 2
    assert "never closed" in error["message"] and '""' in error["hint"]
    assert _by_email(admin) == {}
    # Also when a row before it has a quote that only the lenient reader accepts.
    stray_then_unclosed = _csv(
        'email,first_name,custom.city\nanna@example.ru,Анна,"Москва" центр\n'
        'boris@example.ru,Борис,"Тверь\nvera@example.ru,Вера,Казань\n'
    )
    refused = admin.post("/api/customers/import", content=stray_then_unclosed, headers=CSV)
    assert refused.status_code == 422
    assert (refused.json()["code"], refused.json()["row"]) == ("import_bad_csv", 3)
    assert _by_email(admin) == {}
    # Quoted values over several lines, and a stray quote inside a value, still import.
    fine = _csv(
        'email,first_name,custom.city\nanna@example.ru,Анна,"Москва,\nул. Тверская"\n'
        'boris@example.ru,Борис "Боря",Тверь\nvera@example.ru,Вера,"Казань ""центр"""\n'
        'gleb@example.ru,Глеб,"Самара" центр\n'
    )
    result = admin.post("/api/customers/import", content=fine, headers=CSV).json()
    assert (result["created"], result["errors"]) == (4, [])
    customers = _by_email(admin)
    assert customers["anna@example.ru"]["custom_fields"] == {"city": "Москва,\r\nул. Тверская"}
    assert customers["boris@example.ru"]["first_name"] == 'Борис "Боря"'
    assert customers["vera@example.ru"]["custom_fields"] == {"city": 'Казань "центр"'}
    assert customers["gleb@example.ru"]["custom_fields"] == {"city": "Самара центр"}


def test_unreadable_uploads_are_refused_whole_with_a_reason(admin: TestClient) -> None:
    unknown_column = _csv("email,fist_name\na@example.ru,Анна\n")
    refused = admin.post("/api/customers/import", content=unknown_column, headers=CSV)
    assert refused.status_code == 422
    assert refused.json()["code"] == "import_unknown_column"
    assert "fist_name" in refused.json()["message"]

    windows_1251 = "email,first_name\na@example.ru,Анна\n".encode("cp1251")
    not_utf8 = admin.post("/api/customers/import", content=windows_1251, headers=CSV).json()
    assert not_utf8["code"] == "import_not_utf8"
    assert "UTF-8" in not_utf8["hint"]

    excel = admin.post(
        "/api/customers/import", content=b"x", headers={"Content-Type": "application/vnd.ms-excel"}
    )
    assert excel.json()["code"] == "unsupported_content_type"
    assert admin.post("/api/customers/import", json={"rows": []}).json()["code"] == "invalid_import"
    assert admin.post("/api/customers/import", content=b"", headers=CSV).json()["code"] == "import_empty"


def test_only_admins_import(admin: TestClient, container: Container) -> None:
    user = container.users.create(NewUser(login="olga", name="Ольга", email="olga@mailcard.test"))
    token, _ = container.credentials.create_token(user.id, "tests")
    olga = {"Authorization": f"Bearer {token}"}
    for path in ("/api/customers/import", "/api/stores/import", "/api/users/import"):
        refused = admin.post(path, content=_csv("email\na@example.ru\n"), headers={**CSV, **olga})
        assert refused.status_code == 403, path
        assert refused.json()["code"] == "admin_only"


def test_stores_import_upserts_by_code(admin: TestClient) -> None:
    data = _csv(
        "code,name,sender_email,sender_name\n"
        "msk,Москва,msk@shop.example,Магазин в Москве\n"
        "sh,上海店,shanghai@shop.example,上海店\n"
        "bad code,X,,\n"
    )
    result = admin.post("/api/stores/import", content=data, headers=CSV).json()
    assert (result["created"], result["updated"]) == (2, 0)
    assert [(e["row"], e["code"]) for e in result["errors"]] == [(4, "invalid_row")]

    renamed = admin.post(
        "/api/stores/import", json={"stores": [{"code": "msk", "name": "Москва, Тверская"}]}
    ).json()
    assert (renamed["created"], renamed["updated"]) == (0, 1)
    stores = {s["code"]: s for s in admin.get("/api/stores").json()["items"]}
    assert stores["msk"]["name"] == "Москва, Тверская"
    assert stores["msk"]["sender_email"] == "msk@shop.example"
    assert stores["sh"]["name"] == "上海店"


def test_users_import_creates_updates_and_reports_unknown_stores(
    admin: TestClient, container: Container
) -> None:
    container.stores.create(NewStore("msk", "Москва"))
    container.stores.create(NewStore("sh", "上海"))
    data = _csv(
        "login,name,email,role,store_codes\n"
        "olga,Ольга Смирнова,olga@shop.example,manager,msk;sh\n"
        "wang,王伟,wang@shop.example,,sh\n"
        "petr,Пётр,petr@shop.example,manager,spb\n"
        "admin,Admin,admin@mailcard.test,manager,\n"
    )
    result = admin.post("/api/users/import", content=data, headers=CSV).json()
    assert (result["created"], result["updated"]) == (2, 0)
    assert [(e["row"], e["code"]) for e in result["errors"]] == [
        (4, "store_not_found"),
        (5, "cannot_change_own_role"),
    ]
    olga = container.users.by_login("olga")
    wang = container.users.by_login("wang")
    assert olga is not None and wang is not None
    assert olga.name == "Ольга Смирнова" and len(olga.store_ids) == 2
    assert wang.name == "王伟" and wang.role.value == "manager"
    assert container.users.by_login("petr") is None

    moved = admin.post(
        "/api/users/import", json={"users": [{"login": "wang", "store_codes": ["msk"]}]}
    ).json()
    assert (moved["created"], moved["updated"]) == (0, 1)
    wang = container.users.by_login("wang")
    assert wang is not None and wang.name == "王伟"
    assert wang.store_ids == (container.stores.ids_by_code(["msk"])["msk"],)

    incomplete = admin.post("/api/users/import", json={"users": [{"login": "new"}]}).json()
    assert incomplete["errors"][0]["code"] == "user_fields_missing"


def test_openapi_documents_both_import_formats(admin: TestClient) -> None:
    paths = admin.get("/openapi.json").json()["paths"]
    for path, key in [
        ("/api/customers/import", "customers"),
        ("/api/stores/import", "stores"),
        ("/api/users/import", "users"),
    ]:
        content = paths[path]["post"]["requestBody"]["content"]
        assert set(content) == {"application/json", "text/csv"}
        assert key in content["application/json"]["schema"]["properties"]
        ok = paths[path]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": "#/components/schemas/ImportResult"}
