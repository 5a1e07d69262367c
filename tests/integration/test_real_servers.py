"""Tests proving the real-server fixtures (Postfix + Dovecot, PostgreSQL) behave as documented.

Owns the contract checks for tests/support: every reply code that other test
suites rely on (530, 535, 550, 450, 552, 553, 554, TLS mismatches) is produced
here by a real server, so a broken fixture fails here first.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from tests.support.postgres import PostgresCluster

# ----------------------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres
def test_postgres_default_database(postgres: PostgresCluster) -> None:
    engine = sa.create_engine(postgres.url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("select current_database()")).scalar_one() == postgres.database
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_fresh_databases_are_separate_and_empty(postgres: PostgresCluster) -> None:
    first, second = postgres.fresh_database(), postgres.fresh_database()
    assert first != second
    engines = [sa.create_engine(first), sa.create_engine(second)]
    try:
        with engines[0].begin() as conn:
            conn.execute(sa.text("create table t (x int)"))
            conn.execute(sa.text("insert into t values (1)"))
        with engines[1].connect() as conn:
            tables = conn.execute(
                sa.text("select count(*) from information_schema.tables where table_schema = 'public'")
            ).scalar_one()
            assert tables == 0
    finally:
        for engine in engines:
            engine.dispose()


@pytest.mark.postgres
def test_postgres_psycopg_direct(postgres: PostgresCluster) -> None:
    import psycopg

    with psycopg.connect(postgres.conninfo) as conn:
        assert conn.execute("select 1 + 1").fetchone() == (2,)
