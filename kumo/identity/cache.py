"""Validated tokens, remembered until anything in identity changes.

Every committed change to an identity table bumps one counter row
(``identity_revision``) in the same transaction, whichever process makes it.
A cached token is served only while the counter still has the value it was
validated under, so revocations, disables, role changes and deletions take
effect at once for every API process sharing the database; expiry is checked
on every use. A hit costs one primary-key read instead of a dozen queries.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column

from kumo.db import Base

MAX_ENTRIES = 10_000


class IdentityRevision(Base):
    __tablename__ = "identity_revision"
    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger, default=0)


def _identity_tables() -> set[str]:
    from kumo.identity import models
    return {mapper.local_table.name for mapper in Base.registry.mappers
            if mapper.class_.__module__ == models.__name__}


_BUMP = sa.text("UPDATE identity_revision SET value = value + 1 WHERE id = 1")
_READ = "SELECT value FROM identity_revision WHERE id = 1"


def ensure_counter(db: Session) -> None:
    """The counter row must exist, or no change would ever invalidate a cached token."""
    if db.get(IdentityRevision, 1) is None:
        db.add(IdentityRevision(id=1, value=0))


def current(db: Session) -> int:
    """The counter as this transaction sees it (read once per transaction: it cannot change under it
    except by this session's own writes, which bump it and clear the memo)."""
    value = db.info.get("identity_revision")
    if value is None:
        # straight to the driver (no statement to build, no result to wrap): this read precedes every cached
        # validation, so every authenticated request; a plain DB-API cursor, no parameters: portable
        cursor = db.connection().connection.driver_connection.cursor()
        try:
            cursor.execute(_READ)
            row = cursor.fetchone()
        finally:
            cursor.close()
        value = (row[0] if row else 0) or 0
        db.info["identity_revision"] = value
    return value


@event.listens_for(Session, "before_flush")
def _on_flush(session: Session, _context, _instances) -> None:
    tables = _tables()
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table in tables and (obj not in session.dirty or session.is_modified(obj)):
            _bump(session)
            return


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(getattr(state.statement, "table", None), "name", None)
    if table in _tables():
        _bump(state.session)


def _bump(session: Session) -> None:
    if session.info.get("identity_bumped"):
        return
    session.info["identity_bumped"] = True
    session.info.pop("identity_revision", None)
    session.connection().execute(_BUMP)


@event.listens_for(Session, "after_transaction_end")
def _reset(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop("identity_bumped", None)
        session.info.pop("identity_revision", None)


_table_names: set[str] | None = None


def _tables() -> set[str]:
    global _table_names
    if _table_names is None:
        _table_names = _identity_tables()
    return _table_names


class TokenCache:
    def __init__(self, max_entries: int = MAX_ENTRIES):
        self._entries: OrderedDict[str, tuple[int, float, object]] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, token: str, revision: int):
        with self._lock:
            entry = self._entries.get(token)
            if entry is None:
                return None
            seen_revision, expires_at, data = entry
            if seen_revision != revision or expires_at <= time.time():
                del self._entries[token]
                return None
            self._entries.move_to_end(token)
            return data

    def put(self, token: str, revision: int, expires_at: float, data) -> None:
        with self._lock:
            self._entries[token] = (revision, expires_at, data)
            self._entries.move_to_end(token)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
