"""Who may do what, as one table: every role against every endpoint, each cell asserted.

Roles (see :mod:`tests.support.card_world`): ``admin``; ``manager-owner`` (Olga, whose customer is
"own"); ``manager-other`` (Wang, who manages "other's customer" and nothing else); ``manager-in-store``
(Ivan, who works in the store of "store customer"); and ``anonymous`` (no credentials). So a manager
sees exactly one of the three customers, the admin all of them, the anonymous caller none.

The expectations below are the policy of :mod:`mailcard.access` written out: admins do everything;
a manager works only with customers assigned to them or registered in their stores (anyone else's
is answered 404, so ids cannot be probed), sends only as themselves, their stores or an additional
address granted to them, and changes no settings (users, stores, templates, sender addresses, SMTP
accounts). Statuses 422 in the card rows are not permission answers: the customer has no manager or
no store to send as, which the user may see.

Each cell is one request through the real app (SQLite, the real routers and dependencies) with the
role's API token. Rows that would change the shared world (deletes, new users) act on objects the
cell creates for itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.support.card_world import CardWorld, build_world

import mailcard.senders.confirmations as confirmations
from mailcard.api.app import Services, create_app
from mailcard.bootstrap import build
from mailcard.crm import NewCustomer, NewStore, TemplateDraft
from mailcard.delivery.settings import SmtpSettings
from mailcard.identity import NewUser
from mailcard.settings import Settings

ROLES = ("admin", "manager-owner", "manager-other", "manager-in-store", "anonymous")
LOGIN = {
    "admin": "admin",
    "manager-owner": "olga",
    "manager-other": "wang",
    "manager-in-store": "ivan",
    "anonymous": None,
}
OWNERSHIP = ("own", "store", "other")

# fmt: off
# Actions that do not depend on whose customer it is.    admin  owner  other  in-store  anonymous
POLICY: dict[str, tuple[int, int, int, int, int]] = {
    "health":                                           (200,   200,   200,   200,      200),
    "me":                                               (200,   200,   200,   200,      401),
    "tokens: list own":                                 (200,   200,   200,   200,      401),
    "tokens: create":                                   (201,   201,   201,   201,      401),
    "tokens: revoke own":                               (204,   204,   204,   204,      401),
    "tokens: revoke another user's":                    (404,   404,   404,   404,      401),
    "users: list":                                      (200,   403,   403,   403,      401),
    "users: create":                                    (201,   403,   403,   403,      401),
    "users: read self":                                 (200,   200,   200,   200,      401),
    "users: read another":                              (200,   403,   403,   403,      401),
    "users: edit own name":                             (200,   200,   200,   200,      401),
    "users: edit own role":                             (200,   403,   403,   403,      401),
    "users: edit another":                              (200,   403,   403,   403,      401),
    "users: delete another":                            (204,   403,   403,   403,      401),
    "users: delete self":                               (403,   403,   403,   403,      401),
    "users: import":                                    (200,   403,   403,   403,      401),
    "customers: list":                                  (200,   200,   200,   200,      401),
    "customers: create, unassigned":                    (201,   201,   201,   201,      401),
    "customers: create for another manager":            (201,   403,   403,   403,      401),
    "customers: create in the store":                   (201,   403,   403,   201,      401),
    "customers: import":                                (200,   403,   403,   403,      401),
    "stores: list":                                     (200,   200,   200,   200,      401),
    "stores: read":                                     (200,   200,   200,   200,      401),
    "stores: create":                                   (201,   403,   403,   403,      401),
    "stores: edit":                                     (200,   403,   403,   403,      401),
    "stores: delete":                                   (204,   403,   403,   403,      401),
    "stores: import":                                   (200,   403,   403,   403,      401),
    "templates: list":                                  (200,   200,   200,   200,      401),
    "templates: read":                                  (200,   200,   200,   200,      401),
    "templates: create":                                (201,   403,   403,   403,      401),
    "templates: replace":                               (200,   403,   403,   403,      401),
    "templates: delete":                                (204,   403,   403,   403,      401),
    "sender addresses: list":                           (200,   200,   200,   200,      401),
    "sender addresses: create":                         (201,   403,   403,   403,      401),
    "sender addresses: edit":                           (200,   403,   403,   403,      401),
    "sender addresses: delete":                         (204,   403,   403,   403,      401),
    "smtp accounts: list":                              (200,   403,   403,   403,      401),
    "smtp accounts: read":                              (200,   403,   403,   403,      401),
    "smtp accounts: create":                            (201,   403,   403,   403,      401),
    "smtp accounts: delete":                            (204,   403,   403,   403,      401),
    "smtp accounts: test":                              (200,   403,   403,   403,      401),
    "confirm: start, own address":                      (202,   202,   202,   202,      401),
    "confirm: start, another user":                     (202,   403,   403,   403,      401),
    "confirm: start, store":                            (202,   403,   403,   403,      401),
    "confirm: start, additional address":               (202,   403,   403,   403,      401),
    "confirm: wrong code, own address":                 (422,   422,   422,   422,      401),
    "confirm: wrong code, another user":                (422,   403,   403,   403,      401),
    "confirm: wrong code, store":                       (422,   403,   403,   403,      401),
    "confirm: wrong code, additional address":          (422,   403,   403,   403,      401),
    "mailings: create":                                 (201,   403,   403,   403,      401),
    "mailings: list":                                   (200,   403,   403,   403,      401),
    "mailings: read":                                   (200,   403,   403,   403,      401),
    "mailings: recipients":                             (200,   403,   403,   403,      401),
    "mailings: cancel":                                 (200,   403,   403,   403,      401),
    "confirm: link page (public)":                      (200,   200,   200,   200,      200),
    "confirm: link with a bad token (public)":          (400,   400,   400,   400,      400),
}

# Card actions, one row per customer:                    admin  owner  other  in-store  anonymous
CARD_POLICY: dict[str, dict[str, tuple[int, int, int, int, int]]] = {
    "customer: read": {
        "own":                                          (200,   200,   404,   404,      401),
        "store":                                        (200,   404,   404,   200,      401),
        "other":                                        (200,   404,   200,   404,      401),
    },
    "customer: edit": {
        "own":                                          (200,   200,   404,   404,      401),
        "store":                                        (200,   404,   404,   200,      401),
        "other":                                        (200,   404,   200,   404,      401),
    },
    "customer: delete": {
        "own":                                          (204,   403,   403,   403,      401),
        "store":                                        (204,   403,   403,   403,      401),
        "other":                                        (204,   403,   403,   403,      401),
    },
    "card: From choices": {
        "own":                                          (200,   200,   404,   404,      401),
        "store":                                        (200,   404,   404,   200,      401),
        "other":                                        (200,   404,   200,   404,      401),
    },
    "card: timeline": {
        "own":                                          (200,   200,   404,   404,      401),
        "store":                                        (200,   404,   404,   200,      401),
        "other":                                        (200,   404,   200,   404,      401),
    },
    "card: message status": {
        "own":                                          (200,   200,   404,   404,      401),
        "store":                                        (200,   404,   404,   200,      401),
        "other":                                        (200,   404,   200,   404,      401),
    },
    # From "the customer's manager": only that manager (or an admin); the store customer has none.
    "preview from=manager": {
        "own":                                          (200,   200,   404,   404,      401),
        "store":                                        (422,   404,   404,   422,      401),
        "other":                                        (200,   404,   200,   404,      401),
    },
    "send from=manager": {
        "own":                                          (202,   202,   404,   404,      401),
        "store":                                        (422,   404,   404,   422,      401),
        "other":                                        (202,   404,   202,   404,      401),
    },
    "test send from=manager": {
        "own":                                          (202,   202,   404,   404,      401),
        "store":                                        (422,   404,   404,   422,      401),
        "other":                                        (202,   404,   202,   404,      401),
    },
    # From the customer's store: its staff (or an admin); only the store customer has a store.
    "preview from=store": {
        "own":                                          (422,   422,   404,   404,      401),
        "store":                                        (200,   404,   404,   200,      401),
        "other":                                        (422,   404,   422,   404,      401),
    },
    "send from=store": {
        "own":                                          (422,   422,   404,   404,      401),
        "store":                                        (202,   404,   404,   202,      401),
        "other":                                        (422,   404,   422,   404,      401),
    },
    "test send from=store": {
        "own":                                          (422,   422,   404,   404,      401),
        "store":                                        (202,   404,   404,   202,      401),
        "other":                                        (422,   404,   422,   404,      401),
    },
    # From the additional address news@, granted to Olga and Ivan but not to Wang.
    "preview from=address": {
        "own":                                          (200,   200,   404,   404,      401),
        "store":                                        (200,   404,   404,   200,      401),
        "other":                                        (200,   404,   403,   404,      401),
    },
    "send from=address": {
        "own":                                          (202,   202,   404,   404,      401),
        "store":                                        (202,   404,   404,   202,      401),
        "other":                                        (202,   404,   403,   404,      401),
    },
    "test send from=address": {
        "own":                                          (202,   202,   404,   404,      401),
        "store":                                        (202,   404,   404,   202,      401),
        "other":                                        (202,   404,   403,   404,      401),
    },
}
# fmt: on


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: Any = None
    content: bytes | None = None
    data: dict[str, str] | None = None
    headers: dict[str, str] | None = None


@dataclass
class Cell:
    """What a request builder knows: the world, who calls, about which customer."""

    world: CardWorld
    login: str | None
    ownership: str
    serial: int

    @property
    def me(self) -> int:
        # An anonymous call still needs some id in its path; the admin's is as good as any.
        return self.world.users[self.login or "admin"]

    @property
    def customer(self) -> int:
        return self.world.customers[self.ownership]

    def another_user(self) -> int:
        """A user who is not the caller."""
        return self.world.users["olga" if self.login in (None, "admin") else "admin"]

    def another_manager(self) -> int:
        return self.world.users["wang" if self.login == "olga" else "olga"]


_serial = itertools.count(1)
EMAIL = {"subject": "{{ customer.firstName }}, ваш заказ готов", "html": "<p>Здравствуйте!</p>"}


def _email(kind: str, world: CardWorld) -> dict[str, Any]:
    body: dict[str, Any] = {"from": kind, **EMAIL}
    if kind == "address":
        body["from_address_id"] = world.address_id
    return body


def _fresh_user(cell: Cell) -> int:
    n = cell.serial
    return cell.world.container.users.create(NewUser(f"user{n}", "Temp", f"user{n}@shop.example.com")).id


def _fresh_token(cell: Cell, login: str | None) -> int:
    owner = cell.world.users[login or "admin"]
    return cell.world.container.credentials.create_token(owner, f"cell {cell.serial}")[1].id


def _fresh_store(cell: Cell) -> int:
    return cell.world.container.stores.create(NewStore(f"tmp-{cell.serial}", "Temp")).id


def _fresh_template(cell: Cell) -> int:
    draft = TemplateDraft(name=f"Temp {cell.serial}", event="customer", subject="Hi", text="Hello")
    return cell.world.container.templates_store.create(draft).id


def _fresh_address(cell: Cell) -> int:
    return cell.world.container.sender_addresses.create(f"tmp{cell.serial}@shop.example.com").id


def _fresh_account(cell: Cell) -> int:
    settings = SmtpSettings("127.0.0.1", cell.world.refused_port, "none", username=None, password=None)
    return cell.world.container.accounts.save(f"tmp-{cell.serial}", settings).id


def _fresh_customer(cell: Cell) -> int:
    return cell.world.new_customer(cell.ownership, email=f"tmp{cell.serial}@example.com")


def _mailing(cell: Cell) -> dict[str, Any]:
    return {
        "name": f"Mailing {cell.serial}",
        "from": "Магазин <shop@shop.example.com>",
        "subject": "{{ customer.firstName }}, скидки недели",
        "html": "<p>Здравствуйте, {{ customer.firstName }}!</p>",
        "recipients": [{"customer_id": cell.world.customers["own"]}, {"to": f"m{cell.serial}@example.com"}],
    }


def _fresh_mailing(cell: Cell) -> str:
    """A mailing made by the admin (every role reads the same one)."""
    response = TestClient(create_app(cell.world.container)).post(
        "/api/mailings", json=_mailing(cell), headers=cell.world.headers("admin")
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _card_email(kind: str, suffix: str) -> Callable[[Cell], Call]:
    """POST /api/customers/{id}/emails{suffix} with From ``kind``."""

    def call(cell: Cell) -> Call:
        return Call("POST", f"/api/customers/{cell.customer}/emails{suffix}", _email(kind, cell.world))

    return call


TEMPLATE = {"name": "Заказ готов", "event": "customer", "subject": "{{ customer.firstName }}", "text": "Hi"}

REQUESTS: dict[str, Callable[[Cell], Call]] = {
    "health": lambda c: Call("GET", "/healthz"),
    "me": lambda c: Call("GET", "/api/me"),
    "tokens: list own": lambda c: Call("GET", "/api/tokens"),
    "tokens: create": lambda c: Call("POST", "/api/tokens", {"name": f"cell {c.serial}"}),
    "tokens: revoke own": lambda c: Call("DELETE", f"/api/tokens/{_fresh_token(c, c.login)}"),
    "tokens: revoke another user's": lambda c: Call(
        "DELETE", f"/api/tokens/{_fresh_token(c, 'ivan' if c.login == 'admin' else 'admin')}"
    ),
    "users: list": lambda c: Call("GET", "/api/users"),
    "users: create": lambda c: Call(
        "POST",
        "/api/users",
        {"login": f"new{c.serial}", "name": "New", "email": f"new{c.serial}@shop.example.com"},
    ),
    "users: read self": lambda c: Call("GET", f"/api/users/{c.me}"),
    "users: read another": lambda c: Call("GET", f"/api/users/{c.another_user()}"),
    "users: edit own name": lambda c: Call("PATCH", f"/api/users/{c.me}", {"name": f"Name {c.serial}"}),
    # Asking for the admin role: the admin already has it, a manager may not take it.
    "users: edit own role": lambda c: Call("PATCH", f"/api/users/{c.me}", {"role": "admin"}),
    "users: edit another": lambda c: Call("PATCH", f"/api/users/{_fresh_user(c)}", {"name": "Changed"}),
    "users: delete another": lambda c: Call("DELETE", f"/api/users/{_fresh_user(c)}"),
    "users: delete self": lambda c: Call("DELETE", f"/api/users/{c.me}"),
    "users: import": lambda c: Call(
        "POST",
        "/api/users/import",
        {"users": [{"login": f"imp{c.serial}", "name": "Imp", "email": f"imp{c.serial}@shop.example.com"}]},
    ),
    "customers: list": lambda c: Call("GET", "/api/customers"),
    "customers: create, unassigned": lambda c: Call(
        "POST", "/api/customers", {"email": f"c{c.serial}@example.com"}
    ),
    "customers: create for another manager": lambda c: Call(
        "POST", "/api/customers", {"email": f"c{c.serial}@example.com", "manager_id": c.another_manager()}
    ),
    "customers: create in the store": lambda c: Call(
        "POST", "/api/customers", {"email": f"c{c.serial}@example.com", "store_id": c.world.store_id}
    ),
    "customers: import": lambda c: Call(
        "POST",
        "/api/customers/import",
        content=b"email\r\nimp@example.com\r\n",
        headers={"Content-Type": "text/csv"},
    ),
    "stores: list": lambda c: Call("GET", "/api/stores"),
    "stores: read": lambda c: Call("GET", f"/api/stores/{c.world.store_id}"),
    "stores: create": lambda c: Call("POST", "/api/stores", {"code": f"new-{c.serial}", "name": "New"}),
    "stores: edit": lambda c: Call("PATCH", f"/api/stores/{c.world.store_id}", {"name": "Ромашка"}),
    "stores: delete": lambda c: Call("DELETE", f"/api/stores/{_fresh_store(c)}"),
    "stores: import": lambda c: Call(
        "POST", "/api/stores/import", {"stores": [{"code": f"imp-{c.serial}", "name": "Imported"}]}
    ),
    "templates: list": lambda c: Call("GET", "/api/templates"),
    "templates: read": lambda c: Call("GET", f"/api/templates/{c.world.template_id}"),
    "templates: create": lambda c: Call("POST", "/api/templates", {**TEMPLATE, "name": f"New {c.serial}"}),
    "templates: replace": lambda c: Call("PUT", f"/api/templates/{_fresh_template(c)}", TEMPLATE),
    "templates: delete": lambda c: Call("DELETE", f"/api/templates/{_fresh_template(c)}"),
    "sender addresses: list": lambda c: Call("GET", "/api/sender-addresses"),
    "sender addresses: create": lambda c: Call(
        "POST", "/api/sender-addresses", {"email": f"new{c.serial}@shop.example.com"}
    ),
    "sender addresses: edit": lambda c: Call(
        "PATCH", f"/api/sender-addresses/{_fresh_address(c)}", {"name": "Changed"}
    ),
    "sender addresses: delete": lambda c: Call("DELETE", f"/api/sender-addresses/{_fresh_address(c)}"),
    "smtp accounts: list": lambda c: Call("GET", "/api/smtp-accounts"),
    "smtp accounts: read": lambda c: Call("GET", f"/api/smtp-accounts/{c.world.account_id}"),
    "smtp accounts: create": lambda c: Call(
        "POST",
        "/api/smtp-accounts",
        {"name": f"new-{c.serial}", "host": "127.0.0.1", "port": c.world.refused_port, "security": "none"},
    ),
    "smtp accounts: delete": lambda c: Call("DELETE", f"/api/smtp-accounts/{_fresh_account(c)}"),
    "smtp accounts: test": lambda c: Call("POST", f"/api/smtp-accounts/{c.world.account_id}/test", {}),
    "confirm: start, own address": lambda c: Call(
        "POST", "/api/senders/confirmations", {"kind": "user", "id": c.me}
    ),
    "confirm: start, another user": lambda c: Call(
        "POST", "/api/senders/confirmations", {"kind": "user", "id": c.another_user()}
    ),
    "confirm: start, store": lambda c: Call(
        "POST", "/api/senders/confirmations", {"kind": "store", "id": c.world.store_id}
    ),
    "confirm: start, additional address": lambda c: Call(
        "POST", "/api/senders/confirmations", {"kind": "address", "id": c.world.address_id}
    ),
    "confirm: wrong code, own address": lambda c: Call(
        "POST", "/api/senders/confirmations/code", {"kind": "user", "id": c.me, "code": "x"}
    ),
    "confirm: wrong code, another user": lambda c: Call(
        "POST", "/api/senders/confirmations/code", {"kind": "user", "id": c.another_user(), "code": "x"}
    ),
    "confirm: wrong code, store": lambda c: Call(
        "POST", "/api/senders/confirmations/code", {"kind": "store", "id": c.world.store_id, "code": "x"}
    ),
    "confirm: wrong code, additional address": lambda c: Call(
        "POST", "/api/senders/confirmations/code", {"kind": "address", "id": c.world.address_id, "code": "x"}
    ),
    "mailings: create": lambda c: Call("POST", "/api/mailings", _mailing(c)),
    "mailings: list": lambda c: Call("GET", "/api/mailings"),
    "mailings: read": lambda c: Call("GET", f"/api/mailings/{_fresh_mailing(c)}"),
    "mailings: recipients": lambda c: Call("GET", f"/api/mailings/{_fresh_mailing(c)}/recipients"),
    "mailings: cancel": lambda c: Call("POST", f"/api/mailings/{_fresh_mailing(c)}/cancel"),
    "confirm: link page (public)": lambda c: Call("GET", "/api/senders/confirm?token=mcc_not-a-token"),
    "confirm: link with a bad token (public)": lambda c: Call(
        "POST", "/api/senders/confirm", data={"token": "mcc_not-a-token"}
    ),
}

CARD_REQUESTS: dict[str, Callable[[Cell], Call]] = {
    "customer: read": lambda c: Call("GET", f"/api/customers/{c.customer}"),
    "customer: edit": lambda c: Call("PATCH", f"/api/customers/{c.customer}", {"phone": "+7 495 123-45-67"}),
    "customer: delete": lambda c: Call("DELETE", f"/api/customers/{_fresh_customer(c)}"),
    "card: From choices": lambda c: Call("GET", f"/api/customers/{c.customer}/senders"),
    "card: timeline": lambda c: Call("GET", f"/api/customers/{c.customer}/emails"),
    "card: message status": lambda c: Call("GET", f"/api/messages/{c.world.messages[c.ownership]}"),
    **{
        f"{name} from={kind}": _card_email(kind, suffix)
        for name, suffix in (("preview", "/preview"), ("send", ""), ("test send", "/test"))
        for kind in ("manager", "store", "address")
    },
}


def _cells() -> Iterator[Any]:
    for action, statuses in POLICY.items():
        for role, status in zip(ROLES, statuses, strict=True):
            yield pytest.param(action, role, "-", status, id=f"{action} | {role}")
    for action, rows in CARD_POLICY.items():
        for ownership in OWNERSHIP:
            for role, status in zip(ROLES, rows[ownership], strict=True):
                yield pytest.param(action, role, ownership, status, id=f"{action} | {role} | {ownership}")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CardWorld]:
    data_dir: Path = tmp_path_factory.mktemp("matrix")
    container = build(Settings(data_dir=data_dir, devinbox_port=1))
    built = build_world(container)
    with pytest.MonkeyPatch.context() as patch:
        # Several cells start a confirmation of the same address within seconds.
        patch.setattr(confirmations, "RESEND_AFTER", timedelta(0))
        try:
            yield built
        finally:
            built.close()
            container.dispose()


@pytest.fixture(scope="module")
def client(world: CardWorld) -> Iterator[TestClient]:
    with TestClient(create_app(world.container, Services(worker=False))) as test_client:
        yield test_client


def test_every_action_has_an_expectation_for_every_role() -> None:
    assert set(POLICY) == set(REQUESTS)
    assert set(CARD_POLICY) == set(CARD_REQUESTS)
    for action, rows in CARD_POLICY.items():
        assert set(rows) == set(OWNERSHIP), action


@pytest.mark.parametrize(("action", "role", "ownership", "expected"), list(_cells()))
def test_authorization(
    client: TestClient, world: CardWorld, action: str, role: str, ownership: str, expected: int
) -> None:
    login = LOGIN[role]
    cell = Cell(world, login, ownership if ownership != "-" else "own", next(_serial))
    build_call = CARD_REQUESTS[action] if ownership != "-" else REQUESTS[action]
    call = build_call(cell)
    response = client.request(
        call.method,
        call.path,
        json=call.json,
        content=call.content,
        data=call.data,
        headers={**world.headers(login), **(call.headers or {})},
    )
    assert response.status_code == expected, f"{action} as {role} ({ownership}): {response.text[:500]}"
    if expected in (401, 403, 404, 422):
        # A refusal says why, as problem+json; a 422 here is the world's answer, never a malformed call.
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] != "invalid_request", response.text


def test_refusals_change_nothing(client: TestClient, world: CardWorld) -> None:
    """A refused send queues nothing; a refused edit leaves the record as it was."""
    before = sum(world.container.outbox.counts().values())
    wang = world.headers("wang")
    own = world.customers["own"]
    refused = client.post(f"/api/customers/{own}/emails", json=_email("manager", world), headers=wang)
    assert refused.status_code == 404
    assert sum(world.container.outbox.counts().values()) == before
    phone = world.container.customers.get(own).phone
    edited = client.patch(f"/api/customers/{own}", json={"phone": "+86 10 0000 0000"}, headers=wang)
    assert edited.status_code == 404
    assert world.container.customers.get(own).phone == phone
    deleted = client.delete(f"/api/customers/{own}", headers=world.headers("olga"))
    assert deleted.status_code == 403
    assert world.container.customers.get(own).id == own


def test_new_customer_of_a_manager_is_theirs(client: TestClient, world: CardWorld) -> None:
    created = client.post("/api/customers", json={"email": "mine@example.com"}, headers=world.headers("olga"))
    assert created.status_code == 201
    assert created.json()["manager_id"] == world.users["olga"]
    customer = NewCustomer(email="x@example.com", manager_id=world.users["wang"])
    hidden = world.container.customers.create(customer).id
    assert client.get(f"/api/customers/{hidden}", headers=world.headers("olga")).status_code == 404
