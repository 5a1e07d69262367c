"""Demo data for a fresh installation: users, stores, customers, a sender address and card templates.

Owns what ``mailcard demo load`` and ``MAILCARD_DEMO_DATA=true mailcard run`` put into an empty
database, so a newcomer can send from a customer card in the first minute. The data shows both sides
of the sender rules: Olga's address and the Moscow store are confirmed and send at once; Wang's
address and the Shanghai store are not, so sending as them gives ``sender_not_verified`` until the
address is confirmed. Everything is written through the ordinary stores (the same checks as the API),
and every address is in a domain reserved for examples, so nothing reaches a real person even if an
SMTP account is configured later.

The passwords below are published in the README: demo data is for a developer's machine only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from mailcard.crm.customers import NewCustomer
from mailcard.crm.stores import NewStore
from mailcard.crm.templates import TemplateDraft
from mailcard.errors import ConflictError
from mailcard.identity import NewUser, Role

if TYPE_CHECKING:
    from mailcard.bootstrap import Container

# login -> password, as documented in the README ("Send from a customer card in the first minute").
DEMO_PASSWORDS: Final[Mapping[str, str]] = {
    "admin": "admin-demo-pass",
    "olga": "olga-demo-pass",
    "wang": "wang-demo-pass",
}


@dataclass(frozen=True)
class _DemoUser:
    login: str
    name: str
    email: str
    role: Role
    store_codes: tuple[str, ...]
    confirmed: bool


@dataclass(frozen=True)
class _DemoStore:
    code: str
    name: str
    sender_email: str
    sender_name: str
    confirmed: bool


@dataclass(frozen=True)
class _DemoCustomer:
    first_name: str
    last_name: str | None
    email: str | None
    locale: str
    manager: str
    store: str
    bonus_points: int
    phone: str | None = None
    tags: tuple[str, ...] = ()


USERS: Final = (
    _DemoUser("admin", "Елена Соколова", "admin@shop.example.com", Role.ADMIN, (), confirmed=True),
    _DemoUser("olga", "Ольга Смирнова", "olga@shop.example.com", Role.MANAGER, ("moscow",), confirmed=True),
    # Wang's own address is deliberately left unconfirmed: the README walks through confirming it.
    _DemoUser("wang", "王伟", "wang@shop.example.com", Role.MANAGER, ("shanghai",), confirmed=False),
)

STORES: Final = (
    _DemoStore("moscow", "Ромашка на Тверской", "shop@shop.example.com", "Магазин «Ромашка»", confirmed=True),
    _DemoStore("shanghai", "罗马什卡上海店", "shanghai@shop.example.com", "罗马什卡上海店", confirmed=False),
)

# Chinese names are kept whole in firstName (family name first), as CRMs commonly hold them, so
# "{{ customer.firstName }}，您好" greets 王芳 properly.
CUSTOMERS: Final = (
    _DemoCustomer("Анна", "Иванова", "anna.ivanova@example.com", "ru", "olga", "moscow", 350, tags=("VIP",)),
    _DemoCustomer("Иван", "Петров", "ivan.petrov@example.com", "ru", "olga", "moscow", 0),
    _DemoCustomer("王芳", None, "wang.fang@example.net", "zh-CN", "wang", "shanghai", 800),
    _DemoCustomer("李娜", None, "li.na@example.net", "zh-CN", "wang", "shanghai", 0),
    _DemoCustomer("John", "Smith", "john.smith@example.org", "en", "olga", "moscow", 1250),
    # A card without an e-mail address, as CRMs hold them: sending to it fails with customer_has_no_email.
    _DemoCustomer("Мария", "Кузнецова", None, "ru", "olga", "moscow", 0, phone="+7 495 123-45-67"),
)

ADDITIONAL_ADDRESS: Final = ("news@shop.example.com", "Ромашка — новости")

_BONUS = "customer.customFields.bonus_points"

TEMPLATES: Final = (
    TemplateDraft(
        name="Приглашение в магазин (RU)",
        event="customer",
        subject="{{ customer.firstName }}, ждём вас в магазине «{{ store.name }}»",
        preheader=(
            f"{{% if {_BONUS} > 0 %}}На вашем счёте {{{{ {_BONUS} }}}} бонусов"
            "{% else %}Новая коллекция уже в магазине{% endif %}"
        ),
        html=(
            "<p>Здравствуйте, {{ customer.firstName }}!</p>\n"
            f"{{% if {_BONUS} > 0 %}}\n"
            f"<p>На вашем счёте {{{{ {_BONUS}|number_format(0, ',', ' ') }}}} бонусов: "
            "ими можно оплатить до 30% покупки.</p>\n"
            "{% else %}\n"
            "<p>Новая коллекция уже в магазине, а на первую покупку — скидка 10%.</p>\n"
            "{% endif %}\n"
            "<p>Ваш менеджер — {{ manager.name }}. "
            '<a href="https://shop.example.com/ru/stores">Адреса магазинов</a></p>\n'
            "<p>До встречи в магазине «{{ store.name }}»!</p>\n"
        ),
        # Twig drops the newline right after a tag, hence three after {% endif %} for one blank line.
        text=(
            "Здравствуйте, {{ customer.firstName }}!\n\n"
            f"{{% if {_BONUS} > 0 %}}На вашем счёте {{{{ {_BONUS}|number_format(0, ',', ' ') }}}} бонусов: "
            "ими можно оплатить до 30% покупки."
            "{% else %}Новая коллекция уже в магазине, а на первую покупку — скидка 10%.{% endif %}\n\n\n"
            "Ваш менеджер — {{ manager.name }}. Адреса магазинов: https://shop.example.com/ru/stores\n\n"
            "До встречи в магазине «{{ store.name }}»!\n"
        ),
    ),
    TemplateDraft(
        name="欢迎光临 (ZH)",
        event="customer",
        subject="{{ customer.firstName }}，{{ store.name }}欢迎您再次光临",
        preheader=(
            f"{{% if {_BONUS} > 0 %}}您有 {{{{ {_BONUS} }}}} 积分可用{{% else %}}新品已到店{{% endif %}}"
        ),
        html=(
            "<p>{{ customer.firstName }}，您好！</p>\n"
            f"{{% if {_BONUS} > 0 %}}\n"
            f"<p>您的账户中有 {{{{ {_BONUS}|number_format }}}} 积分，可抵扣最多 30% 的货款。</p>\n"
            "{% else %}\n"
            "<p>新品已经到店，首次购物可享九折优惠。</p>\n"
            "{% endif %}\n"
            "<p>您的专属客户经理：{{ manager.name }}。"
            '<a href="https://shop.example.com/zh/stores">门店地址</a></p>\n'
        ),
        text=(
            "{{ customer.firstName }}，您好！\n\n"
            f"{{% if {_BONUS} > 0 %}}您的账户中有 {{{{ {_BONUS}|number_format }}}} 积分，可抵扣最多 30% 的货款。"
            "{% else %}新品已经到店，首次购物可享九折优惠。{% endif %}\n\n\n"
            "您的专属客户经理：{{ manager.name }}。门店地址：https://shop.example.com/zh/stores\n"
        ),
    ),
    TemplateDraft(
        name="Visit us (EN)",
        event="customer",
        subject="{{ customer.firstName }}, see you at {{ store.name }}",
        preheader=(
            f"{{% if {_BONUS} > 0 %}}You have {{{{ {_BONUS} }}}} bonus points"
            "{% else %}The new collection is in store{% endif %}"
        ),
        html=(
            "<p>Hello {{ customer.firstName }},</p>\n"
            f"{{% if {_BONUS} > 0 %}}\n"
            f"<p>You have {{{{ {_BONUS}|number_format }}}} bonus points: use them for up to 30% of a purchase.</p>\n"
            "{% else %}\n"
            "<p>The new collection is in store, and your first purchase is 10% off.</p>\n"
            "{% endif %}\n"
            "<p>Your manager, {{ manager.name }}, will be glad to help. "
            '<a href="https://shop.example.com/en/stores">Our stores</a></p>\n'
        ),
        text=(
            "Hello {{ customer.firstName }},\n\n"
            f"{{% if {_BONUS} > 0 %}}You have {{{{ {_BONUS}|number_format }}}} bonus points: "
            "use them for up to 30% of a purchase."
            "{% else %}The new collection is in store, and your first purchase is 10% off.{% endif %}\n\n\n"
            "Your manager, {{ manager.name }}, will be glad to help. Our stores: https://shop.example.com/en/stores\n"
        ),
    ),
)


@dataclass(frozen=True)
class DemoSummary:
    """What was loaded, with ids, so a newcomer (or a test) can start from it."""

    users: dict[str, int]
    stores: dict[str, int]
    customers: dict[str, int]
    templates: dict[str, int]
    sender_addresses: dict[str, int]
    passwords: Mapping[str, str] = field(default_factory=lambda: dict(DEMO_PASSWORDS))

    def to_dict(self) -> dict[str, Any]:
        return {
            "users": dict(self.users),
            "stores": dict(self.stores),
            "customers": dict(self.customers),
            "templates": dict(self.templates),
            "sender_addresses": dict(self.sender_addresses),
            "passwords": dict(self.passwords),
        }


def load_demo(container: Container) -> DemoSummary:
    """Fill an empty database with the demo data; refuse when any user exists."""
    if container.users.count():
        raise ConflictError(
            "Demo data goes only into an empty database, and this one already has users.",
            code="database_not_empty",
            hint="Point MAILCARD_DATA_DIR (or MAILCARD_DATABASE_URL) at a new place and load again.",
        )
    stores: dict[str, int] = {}
    for store in STORES:
        created = container.stores.create(
            NewStore(store.code, store.name, sender_email=store.sender_email, sender_name=store.sender_name)
        )
        if store.confirmed:
            container.stores.mark_sender_confirmed(created.id, store.sender_email)
        stores[store.code] = created.id

    users: dict[str, int] = {}
    for user in USERS:
        made = container.users.create(
            NewUser(
                login=user.login,
                name=user.name,
                email=user.email,
                role=user.role,
                password=DEMO_PASSWORDS[user.login],
                store_ids=tuple(stores[code] for code in user.store_codes),
            )
        )
        if user.confirmed:
            container.users.mark_sender_confirmed(made.id, user.email, allow=True)
        users[user.login] = made.id

    email, name = ADDITIONAL_ADDRESS
    address = container.sender_addresses.create(email, name=name, all_users=True)
    container.sender_addresses.mark_confirmed(address.id, email)

    customers: dict[str, int] = {}
    for customer in CUSTOMERS:
        made_customer = container.customers.create(
            NewCustomer(
                email=customer.email,
                first_name=customer.first_name,
                last_name=customer.last_name,
                locale=customer.locale,
                phone=customer.phone,
                custom_fields={"bonus_points": customer.bonus_points},
                tags=customer.tags,
                manager_id=users[customer.manager],
                store_id=stores[customer.store],
            )
        )
        customers[made_customer.full_name] = made_customer.id

    templates = {draft.name: container.templates_store.create(draft).id for draft in TEMPLATES}
    return DemoSummary(
        users=users,
        stores=stores,
        customers=customers,
        templates=templates,
        sender_addresses={email: address.id},
    )


def load_demo_if_empty(container: Container) -> DemoSummary | None:
    """Load the demo data unless users exist (a second start, or a database in use): then ``None``."""
    if container.users.count():
        return None
    try:
        return load_demo(container)
    except ConflictError as error:
        # Another process started at the same moment and created the demo users first.
        if error.code in ("database_not_empty", "login_taken", "store_code_taken"):
            return None
        raise
