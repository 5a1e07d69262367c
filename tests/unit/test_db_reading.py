"""Reads never wait for SQLite's write lock: the card must answer while a worker is writing."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, text

from mailcard.crm.customers import CustomerStore, NewCustomer
from mailcard.db.engine import create_db_engine, reading
from mailcard.db.migrate import upgrade
from mailcard.db.schema import customers


def test_a_read_answers_while_another_process_holds_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "mailcard.db"
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade(engine)
    store = CustomerStore(engine)
    customer = store.create(NewCustomer(email="anna@example.com", first_name="Анна"))
    # Another process (a delivery worker, say) is in the middle of a write transaction.
    writer = sqlite3.connect(path, isolation_level=None, timeout=30)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE customers SET first_name = 'Аня' WHERE id = ?", (customer.id,))
    found: list[str | None] = []
    reader = threading.Thread(target=lambda: found.append(store.get(customer.id).first_name))
    reader.start()
    # A reader that asked for the write lock would sit out the 30 s busy timeout.
    reader.join(timeout=10)
    try:
        assert not reader.is_alive(), "the read waited for the writer's lock"
        assert found == ["Анна"]  # the last committed state, not the writer's unfinished change
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        reader.join()
        engine.dispose()


def test_a_writer_still_takes_the_lock_before_it_reads(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'mailcard.db'}")
    upgrade(engine)
    other = sqlite3.connect(tmp_path / "mailcard.db", isolation_level=None, timeout=0)
    try:
        with engine.begin() as conn:
            conn.execute(select(customers.c.id)).all()
            # The write lock is already held, before any write: a second writer is refused at once.
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()
        engine.dispose()


def test_reading_with_a_callers_connection_leaves_it_open(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'mailcard.db'}")
    upgrade(engine)
    with reading(engine) as outer:
        with reading(engine, outer) as inner:
            assert inner is outer
        assert outer.execute(text("SELECT 1")).scalar_one() == 1
    engine.dispose()
