"""Engines and migrations: SQLite (a file, WAL mode) by default, PostgreSQL for production."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from hub.errors import sanitize_url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and immediate write transactions."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # pysqlite's own transaction handling is switched off so BEGIN IMMEDIATE below takes the
            # write lock at the start: two writers then queue instead of failing on upgrade.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA cache_size=-65536")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return sa.create_engine(url, pool_pre_ping=True, **kwargs)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).resolve().parent / "migrations"))
    return config


_MIGRATING = threading.Lock()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent, cheap when it is there already).

    Alembic's ``context`` is process-global, so migrations in one process run one at a time."""
    config = alembic_config()
    heads = set(ScriptDirectory.from_config(config).get_heads())
    with _MIGRATING:
        with engine.connect() as conn:
            if set(MigrationContext.configure(conn).get_current_heads()) == heads:
                return
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")


def describe(engine: Engine) -> str:
    return sanitize_url(engine.url.render_as_string(hide_password=True))
