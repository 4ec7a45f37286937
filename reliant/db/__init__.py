"""Postgres: the only package that imports psycopg. Query functions live in one module per table."""

from reliant.db.database import (
    Database,
    DatabaseError,
    DatabaseRefusedError,
    DatabaseUnavailableError,
    Queries,
    Row,
    Tx,
)
from reliant.db.migrate import current_version, latest_version, migrate

__all__ = [
    "Database",
    "DatabaseError",
    "DatabaseRefusedError",
    "DatabaseUnavailableError",
    "Queries",
    "Row",
    "Tx",
    "current_version",
    "latest_version",
    "migrate",
]
