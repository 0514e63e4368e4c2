"""The store: SQLAlchemy models and sessions, Alembic migrations.

Portable SQL only (SQLite by default, PostgreSQL or MySQL when configured).
Writers on SQLite take the write lock when their transaction begins
(``BEGIN IMMEDIATE``), so two concurrent writers queue instead of failing
on a lock upgrade; on other databases ordinary transactions and row locks
(``with_for_update``) do that job.
"""

from __future__ import annotations

import ast
import contextlib
import re
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from kumo.errors import Conflict


class Base(DeclarativeBase):
    """Identity's models, and the one MetaData every table is on."""
    type_annotation_map = {dict: sa.JSON, list: sa.JSON}


def model_base(name: str) -> type[DeclarativeBase]:
    """A declarative base for one service's models: its own mapper registry on ``Base.metadata``. The other
    services' models are defined on the start thread while identity already answers; in registries of their
    own, defining them never leaves identity's mappers to be configured again mid-request."""
    return type(name, (DeclarativeBase,), {"metadata": Base.metadata,
                                           "type_annotation_map": Base.type_annotation_map})


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

        # SQLite has one writer. Its busy handler makes a waiting writer sleep (1, 2, 5 ... 100 ms) and try
        # again, so under load the lock sits idle between writers and a late comer may overtake. Writers of
        # this process queue on a lock of their own first (taken with BEGIN IMMEDIATE, given back when the
        # connection returns to the pool after its commit or rollback), which hands the database to the next
        # one at once; the busy handler is left to arbitrate between processes.
        # (A thread already holding it on a connection not yet returned leaves the wait to SQLite.)
        writers, holder = threading.Lock(), [None]

        @event.listens_for(self.engine, "begin")
        def _on_begin(conn):
            write = conn.get_execution_options().get("kumo_write", False)
            if write and not conn.info.get("kumo_writer") and holder[0] != threading.get_ident() \
                    and writers.acquire(timeout=30):  # else SQLite's own wait decides
                holder[0], conn.info["kumo_writer"] = threading.get_ident(), True
            try:
                # straight to the driver: SQLAlchemy's statement path (events, a result) costs more than BEGIN
                conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except BaseException:
                _release(conn.info)
                raise

        def _release(info):
            if info.pop("kumo_writer", False):
                holder[0] = None
                writers.release()

        @event.listens_for(self.engine, "checkin")
        def _on_checkin(_dbapi_conn, record):
            _release(record.info)

        @event.listens_for(self.engine, "invalidate")
        def _on_invalidate(_dbapi_conn, record, _exc):
            _release(record.info)

    @contextlib.contextmanager
    def session(self, write: bool = True):
        """A unit of work: committed when the block ends, rolled back on error."""
        maker = self._writer if write else self._reader
        with maker() as session:
            try:
                yield session
                if write:
                    session.commit()
                else:  # a read keeps nothing: closing ends its transaction (its connection is reset to the pool)
                    session.close()  # without rollback()'s restoring of the session's state, and loaded rows stay
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
        """Bring the schema to the newest migration (every table of ``kumo.db.models``).

        An empty database (or one whose first start stopped before it was stamped) gets the whole schema in
        one step and is stamped with the newest revisions (Alembic's recipe for new installs; the migrations
        produce the same schema, which the tests check); one already at the newest revisions is left alone
        without loading Alembic; any other is migrated revision by revision."""
        from kumo.db import models  # noqa: F401  (every table on Base.metadata)

        state = self.schema_state()
        if state == "new":
            self.create_schema()
        elif state == "behind":
            self.migrate()

    def schema_state(self) -> str:
        """"current" (stamped with the newest revisions), "new" (never stamped: create and stamp) or "behind"."""
        heads = migration_heads()
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return "new"
            stamped = set(conn.execute(_ALEMBIC_VERSION.select()).scalars())
        if not stamped:
            return "new"
        return "current" if heads is not None and stamped == heads else "behind"

    def create_schema(self, tables=None) -> None:
        """Create the missing tables; without ``tables``, all of them, then stamp the newest revisions.
        (A start creates identity's tables first, to answer sooner, and the rest when the other services
        are loaded; a database without a stamp is completed the same way at its next start.)"""
        with self.engine.execution_options(kumo_write=True).begin() as conn:
            Base.metadata.create_all(conn, tables=tables)
            if tables is None:
                heads = migration_heads()
                if heads is None:  # migrations this module cannot read without Alembic
                    conn.commit()
                    from alembic import command
                    command.stamp(alembic_config(self), "heads")
                    return
                _ALEMBIC_VERSION.create(conn, checkfirst=True)
                conn.execute(_ALEMBIC_VERSION.delete())
                conn.execute(_ALEMBIC_VERSION.insert(), [{"version_num": head} for head in sorted(heads)])

    def migrate(self) -> None:
        from alembic import command

        command.upgrade(alembic_config(self), "heads")

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


_ALEMBIC_VERSION = sa.Table("alembic_version", sa.MetaData(),
                            sa.Column("version_num", sa.String(32), nullable=False),
                            sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))
_HEADER = re.compile(r"^(revision|down_revision|branch_labels|depends_on)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)
_heads: set[str] | None = None


def migration_heads() -> set[str] | None:
    """The newest revisions, read from the migration files' headers (what ``alembic heads`` says, without
    loading Alembic: 0.4 s of a start); None when a header is not the plain form this reads."""
    global _heads
    if _heads is None:
        revisions, parents = set(), set()
        for path in (Path(__file__).parent / "migrations" / "versions").glob("*.py"):
            fields = {}
            for key, value in _HEADER.findall(path.read_text()):
                try:
                    fields[key] = ast.literal_eval(value)
                except (ValueError, SyntaxError):
                    return None
            if not isinstance(fields.get("revision"), str) or fields.get("branch_labels") \
                    or fields.get("depends_on"):
                return None
            down = fields.get("down_revision")
            revisions.add(fields["revision"])
            parents.update(down if isinstance(down, (tuple, list)) else [down] if down else [])
        _heads = revisions - parents
    return set(_heads)


def _short(exc: sa.exc.IntegrityError) -> str:
    return str(exc.orig).splitlines()[0] if exc.orig else "duplicate entry"
