"""What the benches share."""

from __future__ import annotations

from psycopg import sql

from ingestion.config.settings import Settings
from ingestion.warehouse.postgres import pg_connect


def fresh_pg_database(settings: Settings, name: str) -> None:
    """Drop and create a database on the local PostgreSQL: a bench's own warehouse."""
    with pg_connect(settings.with_databases(pg_db="postgres").postgres) as conn:
        database = sql.Identifier(name)
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(database))
        conn.execute(sql.SQL("create database {}").format(database))
