"""The Alembic migrations build exactly the schema declared in ``mailcard.db.schema``.

A column added to the metadata but forgotten in a migration (or the reverse) would pass every test
that builds tables from migrations and then fail on a user's upgraded database; this catches it.
"""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from mailcard.db.engine import create_db_engine
from mailcard.db.migrate import current_revision, head_revision, upgrade
from mailcard.db.schema import metadata


def _differences(url: str) -> list[object]:
    engine = create_db_engine(url)
    try:
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_sqlite_migrations_match_the_declared_schema(tmp_path: Path) -> None:
    assert _differences(f"sqlite:///{tmp_path / 'm.db'}") == []


def test_postgres_migrations_match_the_declared_schema(postgres) -> None:  # type: ignore[no-untyped-def]
    assert _differences(postgres.fresh_database()) == []
