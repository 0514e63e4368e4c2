"""The store: SQLAlchemy models and sessions, Alembic migrations.

Portable SQL only (SQLite by default, PostgreSQL or MySQL when configured).
Writers on SQLite take the write lock when their transaction begins
(``BEGIN IMMEDIATE``), so two concurrent writers queue instead of failing
on a lock upgrade; on other databases ordinary transactions and row locks
(``with_for_update``) do that job.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from kumo.errors import Conflict


class Base(DeclarativeBase):
    type_annotation_map = {dict: sa.JSON, list: sa.JSON}


def after_commit(session: Session, action) -> None:
    """Run ``action()`` once ``session``'s transaction has committed (never if it rolls back).

    This is where side effects outside the database start: messages to workers, data-plane
    changes. Validation and database writes stay inside the transaction (precommit)."""
    session.info.setdefault("after_commit", []).append(action)


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    """Naive UTC, as stored in every timestamp column."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Database:
    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs = {}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=20)
        self.engine = sa.create_engine(url, **kwargs)
        if self.is_sqlite:
            self._tune_sqlite()
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(self.engine.execution_options(kumo_write=True), expire_on_commit=False)

    def _tune_sqlite(self) -> None:
        @event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(self.engine, "begin")
        def _on_begin(conn):
            write = conn.get_execution_options().get("kumo_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    @contextlib.contextmanager
    def session(self, write: bool = True):
        """A unit of work: committed when the block ends, rolled back on error."""
        maker = self._writer if write else self._reader
        with maker() as session:
            try:
                yield session
                if write:
                    session.commit()
                else:
                    session.rollback()
                for action in session.info.pop("after_commit", []):
                    action()
            except sa.exc.IntegrityError as exc:
                session.rollback()
                raise Conflict(f"Conflict occurred attempting to store the resource: {_short(exc)}") from exc
            except BaseException:
                session.rollback()
                session.info.pop("after_commit", None)
                raise

    def upgrade(self) -> None:
        """Bring the schema to the newest migration.

        An empty database gets the whole schema in one step and is stamped with the newest revisions
        (Alembic's recipe for new installs; the migrations produce the same schema, which the tests
        check); an existing one is migrated revision by revision."""
        from alembic import command

        from kumo.db import models  # noqa: F401  (every table on Base.metadata)

        config = alembic_config(self)
        if not sa.inspect(self.engine).get_table_names():
            Base.metadata.create_all(self.engine)
            command.stamp(config, "heads")
            return
        command.upgrade(config, "heads")

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(db: Database):
    from alembic.config import Config

    here = Path(__file__).parent
    cfg = Config()
    cfg.set_main_option("script_location", str(here / "migrations"))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    cfg.attributes["engine"] = db.engine
    return cfg


def _short(exc: sa.exc.IntegrityError) -> str:
    return str(exc.orig).splitlines()[0] if exc.orig else "duplicate entry"
