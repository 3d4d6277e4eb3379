"""Engines and migrations: SQLite (a file, WAL mode) by default, PostgreSQL for production."""

from __future__ import annotations

import sqlite3
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
            # 16 KiB pages for a new database (an existing one keeps its own; the page size must
            # be set before WAL mode creates the file): audit events and golden records are a
            # kilobyte or more each and pack into 4 KiB pages with a third of each page empty,
            # and a bulk import writes ~20% fewer bytes and spends ~15% less CPU in SQLite
            # (bench/csv_ingest.py). https://www.sqlite.org/pragma.html#pragma_page_size
            cursor.execute("PRAGMA page_size=16384")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # 32 MiB of page cache holds the pages a bulk import keeps touching (B-tree interior
            # pages, the growing end of each table); the rest comes from the OS's file cache.
            # 64 MiB was no faster on a 100k-row import and added 36 MB to the peak RSS.
            cursor.execute("PRAGMA cache_size=-32768")
            # Sorts and DISTINCT of the batch look-ups in memory, not in temporary files.
            cursor.execute("PRAGMA temp_store=MEMORY")
            # A WAL that grew during a large import is cut back to this size once checkpointed.
            cursor.execute(f"PRAGMA journal_size_limit={64 * 1024 * 1024}")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return sa.create_engine(url, pool_pre_ping=True, **kwargs)


# With a checkpointer running, a commit checkpoints the WAL itself only once it holds this many
# pages (256 MiB at 16 KiB): a bound on the WAL if the background thread falls behind.
FOREGROUND_CHECKPOINT_PAGES = 16384


class WalCheckpointer:
    """Checkpoints an SQLite database's write-ahead log from a background thread.

    By default the connection that commits past 1,000 WAL pages copies the WAL into the database
    and syncs both before its commit returns: on a bulk import that is every batch, waiting on the
    disk. Here a thread of its own does it after each commit (``kick``) in PASSIVE mode, which
    blocks neither readers nor the writer; the copy and the sync then overlap the next batch's
    work, while durability is what WAL with ``synchronous=NORMAL`` gives either way. Commits that
    come faster than ``every_seconds`` share one checkpoint. Writers keep a foreground checkpoint
    as a backstop at ``FOREGROUND_CHECKPOINT_PAGES``.
    https://www.sqlite.org/wal.html#application_initiated_checkpoints
    """

    def __init__(self, path: str, every_seconds: float = 0.5) -> None:
        self.path = path
        self.every_seconds = every_seconds  # at most this often: many small commits, few syncs
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def kick(self) -> None:
        """A transaction committed: the WAL has frames to copy."""
        self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while not self._stop.is_set():
                self._wake.wait()
                self._wake.clear()
                if self._stop.is_set():
                    break
                try:
                    if conn is None:  # only once a commit says the database exists
                        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    continue  # busy or gone: the writers' own checkpoints remain
                self._stop.wait(self.every_seconds)
        finally:
            if conn is not None:
                conn.close()


def sqlite_file(engine: Engine) -> str | None:
    """The database file of an SQLite engine; None for other engines and in-memory databases."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def checkpoint_in_background(engine: Engine) -> WalCheckpointer | None:
    """Start a ``WalCheckpointer`` for ``engine``'s database file, if it has one, and leave the
    engine's own connections a foreground checkpoint only as a backstop."""
    path = sqlite_file(engine)
    if path is None:
        return None

    @sa.event.listens_for(engine, "connect")
    def _backstop_only(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA wal_autocheckpoint={FOREGROUND_CHECKPOINT_PAGES}")
        cursor.close()

    return WalCheckpointer(path)


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
