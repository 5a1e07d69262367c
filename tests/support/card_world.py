"""A small, fully set-up customer-card world for API tests that need real rows behind every id.

One admin and three managers, chosen so each customer is visible to exactly one manager:

* ``olga`` manages ``own`` (her customer, no store);
* ``ivan`` works in the store ``romashka``, which ``store`` (a customer without a manager) belongs to;
* ``wang`` manages ``other`` (from Olga's point of view, another manager's customer).

Every sender can send: the users' own addresses, the store's address and the additional address
``news@`` (granted to Olga and Ivan, not to Wang) are confirmed. The SMTP account ``closed`` points at
a loopback port that refuses connections, so a connection test fails at once instead of waiting.
Built through the stores, not the API, so the API tests start from known ids.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

from mailcard.bootstrap import Container
from mailcard.crm import NewCustomer, NewStore, TemplateDraft
from mailcard.delivery.settings import SmtpSettings
from mailcard.identity import NewUser, Role
from mailcard.secret import Secret

PASSWORDS = {
    "admin": "admin-pass-123",
    "olga": "olga-pass-1234",
    "wang": "wang-pass-1234",
    "ivan": "ivan-pass-1234",
}
CLOSED_ACCOUNT_PASSWORD = "closed-smtp-pass-9"


def refusing_port() -> socket.socket:
    """A loopback socket bound but not listening: connecting to its port is refused at once.

    Holding it (instead of picking a "free" port) keeps any other process from taking the port.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class CardWorld:
    container: Container
    closed_port: socket.socket
    users: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    customers: dict[str, int] = field(default_factory=dict)
    store_id: int = 0
    address_id: int = 0
    template_id: int = 0
    account_id: int = 0
    messages: dict[str, str] = field(default_factory=dict)

    @property
    def refused_port(self) -> int:
        return int(self.closed_port.getsockname()[1])

    def headers(self, login: str | None) -> dict[str, str]:
        """The Authorization header of ``login`` (none for an anonymous caller)."""
        return {"Authorization": f"Bearer {self.tokens[login]}"} if login else {}

    def new_customer(self, ownership: str, **fields: Any) -> int:
        """A fresh customer with the assignment of ``own``, ``store`` or ``other``."""
        assignment = {
            "own": {"manager_id": self.users["olga"]},
            "store": {"store_id": self.store_id},
            "other": {"manager_id": self.users["wang"]},
        }[ownership]
        values: dict[str, Any] = {"email": f"{ownership}-customer@example.com", **assignment, **fields}
        return self.container.customers.create(NewCustomer(**values)).id

    def close(self) -> None:
        self.closed_port.close()


def build_world(container: Container) -> CardWorld:
    world = CardWorld(container=container, closed_port=refusing_port())
    users = container.users
    store = container.stores.create(
        NewStore("romashka", "Ромашка", sender_email="shop@shop.example.com", sender_name="Магазин «Ромашка»")
    )
    world.store_id = store.id
    people = [
        ("admin", "Admin", Role.ADMIN, ()),
        ("olga", "Ольга Смирнова", Role.MANAGER, ()),
        ("wang", "王伟", Role.MANAGER, ()),
        ("ivan", "Иван Петров", Role.MANAGER, (store.id,)),
    ]
    for login, name, role, store_ids in people:
        email = f"{login}@shop.example.com"
        user = users.create(NewUser(login, name, email, role, PASSWORDS[login], store_ids))
        users.mark_sender_confirmed(user.id, email, allow=True)
        world.users[login] = user.id
        world.tokens[login] = container.credentials.create_token(user.id, "tests")[0]
    container.stores.mark_sender_confirmed(store.id, "shop@shop.example.com")
    address = container.sender_addresses.create(
        "news@shop.example.com", name="Новости", user_ids=(world.users["olga"], world.users["ivan"])
    )
    container.sender_addresses.mark_confirmed(address.id, "news@shop.example.com")
    world.address_id = address.id
    world.template_id = container.templates_store.create(
        TemplateDraft(
            name="Заказ готов",
            event="customer",
            subject="{{ customer.firstName }}, ваш заказ готов",
            html="<p>Здравствуйте, {{ customer.firstName }}!</p>",
        )
    ).id
    world.account_id = container.accounts.save(
        "closed",
        SmtpSettings(
            host="127.0.0.1",
            port=world.refused_port,
            security="none",
            username="robot@shop.example.com",
            password=Secret(CLOSED_ACCOUNT_PASSWORD),
            timeout=2.0,
        ),
    ).id
    for ownership in ("own", "store", "other"):
        world.customers[ownership] = world.new_customer(ownership, first_name="Анна")
    _send_one_to_each(world)
    return world


def _send_one_to_each(world: CardWorld) -> None:
    """One queued e-mail per customer, so message status and timelines have something to show."""
    from mailcard.card import CardEmail

    admin = world.container.users.principal(world.container.users.get(world.users["admin"]), via="token")
    email = CardEmail(from_kind="address", from_address_id=world.address_id, template_id=world.template_id)
    for ownership, customer_id in world.customers.items():
        sent = world.container.card.send(admin, customer_id, email, idempotency_key=None)
        world.messages[ownership] = sent.message_id
