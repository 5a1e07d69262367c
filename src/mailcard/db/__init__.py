"""Storage: SQLAlchemy tables, engine creation (SQLite WAL or PostgreSQL) and Alembic migrations."""
