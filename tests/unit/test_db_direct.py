"""Direct statements (SQLite's DB-API, bypassing SQLAlchemy's execution) read and write exactly what SQLAlchemy does.

The database is the demo's after a send from the card, a login and an API token, so every table the
card touches holds rows, and every column type of the schema (dates, JSON, booleans, blobs, floats)
is compared value for value and type for type.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, insert, select, text

from mailcard.bootstrap import Container, build
from mailcard.card import CardEmail
from mailcard.db.direct import Direct
from mailcard.db.engine import reading
from mailcard.db.rows import row_by_id
from mailcard.db.schema import customer_emails, metadata, smtp_accounts, users
from mailcard.delivery.settings import SmtpSettings
from mailcard.demo import load_demo
from mailcard.secret import Secret
from mailcard.settings import Settings


@pytest.fixture()
def shop(tmp_path: Path) -> Iterator[Container]:
    container = build(Settings(data_dir=tmp_path, devinbox_port=1))
    try:
        load_demo(container)
        container.accounts.save(
            "relay",
            SmtpSettings(
                host="127.0.0.1", port=2525, security="starttls", username="u", password=Secret("pw")
            ),
        )
        olga = container.users.by_login("olga")
        assert olga is not None
        principal = container.users.principal(olga, via="token")
        customers, _ = container.customers.list()
        customer = next(c for c in customers if c.email and c.manager_id == olga.id)
        container.card.send(
            principal,
            customer.id,
            CardEmail(from_kind="manager", subject="Hi", text="Hello"),
            idempotency_key="k1",
        )
        container.credentials.create_token(olga.id, "integration")
        container.credentials.open_session(olga.id)
        yield container
    finally:
        container.dispose()


def _typed(row: Any) -> dict[str, tuple[type, Any]]:
    return {key: (type(value), value) for key, value in dict(row).items()}


@pytest.mark.parametrize(
    "table", sorted(metadata.tables.values(), key=lambda t: t.name), ids=lambda t: t.name
)
def test_every_table_reads_the_same_as_through_sqlalchemy(shop: Container, table: Any) -> None:
    statement = select(table)
    with reading(shop.engine) as conn:
        expected = [_typed(row._mapping) for row in conn.execute(statement)]
        got = [_typed(row) for row in Direct(statement).mappings(conn, {})]
    assert got == expected


def test_the_tables_the_card_reads_are_not_empty(shop: Container) -> None:
    # Otherwise the comparison above would compare nothing for them.
    with reading(shop.engine) as conn:
        for name in (
            "users",
            "customers",
            "stores",
            "smtp_accounts",
            "api_tokens",
            "user_sessions",
            "customer_emails",
        ):
            assert conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one() > 0, name


def test_a_row_by_id_and_a_missing_one(shop: Container) -> None:
    with reading(shop.engine) as conn:
        first = conn.execute(select(users).order_by(users.c.id)).first()
        assert first is not None
        assert row_by_id(conn, users, first.id) == dict(first._mapping)
        assert row_by_id(conn, users, 999_999) is None


def test_values_the_statement_carries_are_bound(shop: Container) -> None:
    # A literal in the statement ('saved') is a bind parameter with a value of its own.
    statement = select(smtp_accounts.c.name).where(smtp_accounts.c.kind == "saved")
    with reading(shop.engine) as conn:
        assert Direct(statement).mappings(conn, {}) == [{"name": "relay"}]


def test_an_insert_stores_what_sqlalchemy_stores(shop: Container) -> None:
    values: dict[str, Any] = {
        "customer_id": 1,
        "outbox_message_id": "m-direct",
        "user_id": 1,
        "template_id": None,
        "from_kind": "manager",
        "from_address": "olga@example.com",
        "subject": "Привет, 世界",
        "warnings": [{"code": "shortened_link", "hint": None}],
        "created_at": datetime(2026, 11, 21, 12, 30, 5, 123456, tzinfo=UTC),
    }
    with shop.engine.begin() as conn:
        Direct(insert(customer_emails)).execute(conn, values)
        conn.execute(insert(customer_emails), {**values, "outbox_message_id": "m-core"})
    stored = text("SELECT * FROM customer_emails WHERE outbox_message_id = :id")
    with reading(shop.engine) as conn:
        direct = dict(conn.execute(stored, {"id": "m-direct"}).one()._mapping)
        core = dict(conn.execute(stored, {"id": "m-core"}).one()._mapping)
    for row in (direct, core):
        row.pop("id")
        row.pop("outbox_message_id")
    assert direct == core  # the same stored form: the same date text, the same JSON text


def test_it_runs_in_the_callers_transaction(shop: Container) -> None:
    values = {
        "customer_id": 1,
        "outbox_message_id": "m-rolled-back",
        "user_id": 1,
        "from_kind": "manager",
        "from_address": "olga@example.com",
        "subject": "s",
        "warnings": [],
        "created_at": datetime.now(UTC),
    }
    with pytest.raises(RuntimeError), shop.engine.begin() as conn:
        Direct(insert(customer_emails)).execute(conn, values)
        raise RuntimeError("the use case failed after the insert")
    with reading(shop.engine) as conn:
        found = Direct(select(customer_emails).where(customer_emails.c.outbox_message_id == bindparam("id")))
        assert found.first(conn, {"id": "m-rolled-back"}) is None
        assert conn.in_transaction()  # the read began the reading transaction (the dialect's BEGIN)


def test_a_missing_parameter_is_an_error_not_a_null(shop: Container) -> None:
    statement = Direct(select(users.c.id).where(users.c.login == bindparam("login")))
    with reading(shop.engine) as conn, pytest.raises(KeyError):
        statement.mappings(conn, {})


def test_in_lists_are_refused(shop: Container) -> None:
    statement = Direct(select(users.c.id).where(users.c.id.in_(bindparam("ids", expanding=True))))
    with reading(shop.engine) as conn, pytest.raises(ValueError, match="expanding"):
        statement.mappings(conn, {"ids": [1, 2]})
