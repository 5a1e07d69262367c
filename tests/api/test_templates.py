"""Templates through the real app: unsafe content and broken Twig are refused at save, warnings kept."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from mailcard.bootstrap import Container
from mailcard.identity import NewUser

GREETING = "<p>Здравствуйте, {{ customer.firstName|default('клиент') }}!</p>"


def _template(**fields: Any) -> dict[str, Any]:
    return {
        "name": "Приветствие",
        "event": "customer",
        "subject": "Привет, {{ customer.firstName }}",
        **fields,
    }


def _codes(findings: list[dict[str, Any]]) -> list[str]:
    return [f["code"] for f in findings]


def test_script_and_iframe_refuse_the_save_with_findings(admin: TestClient) -> None:
    for html, code in [
        (GREETING + "<script>alert(1)</script>", "unsafe_script"),
        (GREETING + '<iframe src="https://example.com/promo"></iframe>', "unsafe_frame"),
        ('<a href="javascript:alert(1)">Купить</a>', "unsafe_url"),
    ]:
        refused = admin.post("/api/templates", json=_template(html=html))
        assert refused.status_code == 422
        problem = refused.json()
        assert problem["code"] == "content_blocked"
        assert code in _codes(problem["findings"])
        blocking = next(f for f in problem["findings"] if f["code"] == code)
        assert blocking["severity"] == "error" and blocking["location"]["part"] == "html"
    assert admin.get("/api/templates").json()["total"] == 0


def test_a_shortened_link_is_saved_with_a_warning(admin: TestClient) -> None:
    html = GREETING + '<a href="https://bit.ly/3abcDEF">Скидка 10%</a>'
    created = admin.post("/api/templates", json=_template(html=html, text="Скидка: https://bit.ly/3abcDEF"))
    assert created.status_code == 201, created.text
    template = created.json()
    warnings = [f for f in template["findings"] if f["code"] == "shortened_link"]
    assert warnings and all(f["severity"] == "warning" for f in warnings)
    assert "bit.ly" in warnings[0]["message"]
    # Kept with the template: reading it back shows the same warnings without checking again.
    assert _codes(admin.get(f"/api/templates/{template['id']}").json()["findings"]) == _codes(
        template["findings"]
    )

    fixed = admin.put(
        f"/api/templates/{template['id']}",
        json=_template(html=GREETING + '<a href="https://shop.example.com/sale">Скидка</a>', text="Скидка"),
    )
    assert fixed.status_code == 200
    assert "shortened_link" not in _codes(fixed.json()["findings"])


def test_twig_syntax_error_is_reported_with_its_line(admin: TestClient) -> None:
    html = "<p>Здравствуйте!</p>\n{% if customer.firstName %}\n<p>{{ customer.firstName }</p>\n{% endif %}"
    refused = admin.post("/api/templates", json=_template(html=html))
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["code"] == "template_syntax_error"
    assert problem["line"] == 3 and problem["template"] == "html"
    assert "line 3" in problem["message"]

    bad_subject = admin.post("/api/templates", json=_template(subject="{{ customer.firstName ", text="Текст"))
    assert bad_subject.json()["code"] == "template_syntax_error"
    assert bad_subject.json()["template"] == "subject"


def test_a_template_needs_a_body(admin: TestClient) -> None:
    refused = admin.post("/api/templates", json=_template(html="  ", text=None))
    assert refused.status_code == 422
    assert refused.json()["code"] == "template_body_missing"
    text_only = admin.post("/api/templates", json=_template(text="你好，{{ customer.firstName }}！"))
    assert text_only.status_code == 201
    assert text_only.json()["html"] is None


def test_managers_read_templates_by_event_but_cannot_write(admin: TestClient, container: Container) -> None:
    greeting = admin.post("/api/templates", json=_template(html=GREETING)).json()
    admin.post(
        "/api/templates", json=_template(name="Заказ отправлен", event="order", text="{{ order.number }}")
    )
    user = container.users.create(NewUser(login="olga", name="Ольга", email="olga@mailcard.test"))
    token, _ = container.credentials.create_token(user.id, "tests")
    olga = {"Authorization": f"Bearer {token}"}

    listed = admin.get("/api/templates", params={"event": "customer"}, headers=olga).json()
    assert [t["name"] for t in listed["items"]] == ["Приветствие"] and listed["total"] == 1
    assert admin.get("/api/templates", headers=olga).json()["total"] == 2
    assert admin.get(f"/api/templates/{greeting['id']}", headers=olga).status_code == 200
    for refused in (
        admin.post("/api/templates", json=_template(html=GREETING), headers=olga),
        admin.put(f"/api/templates/{greeting['id']}", json=_template(html=GREETING), headers=olga),
        admin.delete(f"/api/templates/{greeting['id']}", headers=olga),
    ):
        assert refused.status_code == 403
        assert refused.json()["code"] == "admin_only"


def test_delete_and_missing_templates(admin: TestClient) -> None:
    created = admin.post("/api/templates", json=_template(html=GREETING)).json()
    assert admin.delete(f"/api/templates/{created['id']}").status_code == 204
    missing = admin.get(f"/api/templates/{created['id']}")
    assert missing.status_code == 404 and missing.json()["code"] == "template_not_found"
    assert admin.put(f"/api/templates/{created['id']}", json=_template(html=GREETING)).status_code == 404
