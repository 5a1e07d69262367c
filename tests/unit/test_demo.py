"""The demo data: what a fresh ``make run`` offers, that its templates are valid, and that it loads once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcard.bootstrap import Container, build
from mailcard.card import CardEmail
from mailcard.crm.templates import TemplateDraft
from mailcard.demo import DEMO_PASSWORDS, DemoSummary, load_demo, load_demo_if_empty
from mailcard.errors import ConflictError, InputError
from mailcard.identity import Role, UserStore
from mailcard.settings import Settings


@pytest.fixture()
def loaded(tmp_path: Path) -> Iterator[tuple[Container, DemoSummary]]:
    container = build(Settings(data_dir=tmp_path, devinbox_port=1))
    try:
        yield container, load_demo(container)
    finally:
        container.dispose()


def test_counts_and_languages(loaded: tuple[Container, DemoSummary]) -> None:
    container, summary = loaded
    assert container.users.count() == 3
    assert container.customers.list()[1] == 6
    assert container.stores.list()[1] == 2
    assert container.templates_store.list(event="customer")[1] == 3
    assert len(container.sender_addresses.list()) == 1
    customers, _ = container.customers.list()
    assert {c.locale for c in customers} == {"ru", "zh-CN", "en"}
    names = {c.full_name for c in customers}
    assert {"Анна Иванова", "Иван Петров", "王芳", "李娜", "John Smith"} <= names
    assert [c.full_name for c in customers if c.email is None] == ["Мария Кузнецова"]
    assert set(summary.customers) == names
    # Every address is in a domain reserved for examples: nothing can reach a real person.
    reserved = ("example.com", "example.net", "example.org")
    assert all(c.email.endswith(reserved) for c in customers if c.email)


def test_one_confirmed_and_one_unconfirmed_manager_and_store(loaded: tuple[Container, DemoSummary]) -> None:
    container, _ = loaded
    users, _ = container.users.list()
    managers = {u.login: u for u in users if u.role is Role.MANAGER}
    assert managers["olga"].can_send_as_self
    assert managers["wang"].sender_confirmed_at is None and not managers["wang"].can_send_as_self
    assert [u.login for u in users if u.role is Role.ADMIN] == ["admin"]
    stores, _ = container.stores.list()
    assert sorted(s.sender_confirmed for s in stores) == [False, True]
    [address] = container.sender_addresses.list()
    assert address.confirmed_at is not None and address.all_users


def test_published_passwords_log_in(loaded: tuple[Container, DemoSummary]) -> None:
    container, _ = loaded
    for login, password in DEMO_PASSWORDS.items():
        assert container.users.authenticate(login, password).login == login


def test_templates_compile_pass_the_checks_and_render_for_every_customer(
    loaded: tuple[Container, DemoSummary],
) -> None:
    container, summary = loaded
    admin = UserStore.principal(container.users.get(summary.users["admin"]), via="token")
    templates, _ = container.templates_store.list()
    for template in templates:
        assert template.event == "customer"
        assert template.findings == [], template.findings
        draft = TemplateDraft(
            template.name, template.event, template.subject, template.preheader, template.html, template.text
        )
        _, findings = container.templates_store.check(draft)
        assert findings == ()
        # What the brief for the card templates asks: the customer's name, the manager, the store,
        # a preheader and a condition.
        assert "customer.firstName" in template.subject and "store.name" in template.subject
        assert template.preheader is not None and "{% if" in template.preheader
        assert template.html is not None and "manager.name" in template.html and "{% if" in template.html
        assert template.text is not None

    previews = {}
    for name, customer_id in summary.customers.items():
        for template in templates:
            email = CardEmail(from_kind="manager", template_id=template.id)
            if name == "Мария Кузнецова":
                with pytest.raises(InputError) as refused:
                    container.card.preview(admin, customer_id, email)
                assert refused.value.code == "customer_has_no_email"
                continue
            preview = container.card.preview(admin, customer_id, email)
            codes = [f.code for f in preview.findings]
            assert "unresolved_variable" not in codes, preview.findings
            previews[(name, template.name)] = preview
    # Both sides of the condition render: with bonus points and without.
    assert previews[("Анна Иванова", "Приглашение в магазин (RU)")].preheader == "На вашем счёте 350 бонусов"
    assert (
        previews[("Иван Петров", "Приглашение в магазин (RU)")].preheader == "Новая коллекция уже в магазине"
    )
    assert previews[("王芳", "欢迎光临 (ZH)")].subject == "王芳，罗马什卡上海店欢迎您再次光临"
    assert previews[("王芳", "欢迎光临 (ZH)")].preheader == "您有 800 积分可用"
    assert previews[("李娜", "欢迎光临 (ZH)")].preheader == "新品已到店"
    english = previews[("John Smith", "Visit us (EN)")]
    assert english.subject == "John, see you at Ромашка на Тверской"
    assert english.preheader == "You have 1250 bonus points"
    assert english.can_send and english.html is not None and "Your manager, Ольга Смирнова" in english.html
    assert english.text is not None and "1,250 bonus points" in english.text
    # Wang's address is not confirmed: the preview says so instead of sending.
    assert not previews[("王芳", "欢迎光临 (ZH)")].can_send


def test_loads_only_into_an_empty_database(loaded: tuple[Container, DemoSummary]) -> None:
    container, _ = loaded
    with pytest.raises(ConflictError) as refused:
        load_demo(container)
    assert refused.value.code == "database_not_empty"
    assert load_demo_if_empty(container) is None
    assert container.users.count() == 3 and container.customers.list()[1] == 6


def test_loads_when_empty(tmp_path: Path) -> None:
    container = build(Settings(data_dir=tmp_path, devinbox_port=1))
    try:
        summary = load_demo_if_empty(container)
        assert summary is not None and set(summary.users) == set(DEMO_PASSWORDS)
    finally:
        container.dispose()
