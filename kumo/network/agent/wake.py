"""Wake the agent after any committed change to networking rows.

A SQLAlchemy ``after_flush`` listener notices new, changed or deleted networking objects in a
session and, through ``kumo.db.after_commit``, calls the waker registered for that database once
the transaction commits (never on rollback). This covers every API path (ports, networks, subnets,
security groups and rules) without each handler having to remember.
"""

from __future__ import annotations

import threading

from sqlalchemy import event
from sqlalchemy.orm import Session

from kumo.db import after_commit
from kumo.network import models
from kumo.network.sfc import models as sfc_models

WATCHED = (models.Network, models.Subnet, models.Port, models.IPAllocation, models.SecurityGroup,
           models.SecurityGroupRule, models.Router, models.FloatingIP, sfc_models.FlowClassifier,
           sfc_models.PortPair, sfc_models.PortPairGroup, sfc_models.PortChain)
_wakers: dict[str, object] = {}
_lock = threading.Lock()


def _key(bind) -> str:
    return str(getattr(bind, "url", bind))


def register(database, waker) -> None:
    with _lock:
        _wakers[_key(database.engine)] = waker
        if not event.contains(Session, "after_flush", _after_flush):
            event.listen(Session, "after_flush", _after_flush)


def unregister(database) -> None:
    with _lock:
        _wakers.pop(_key(database.engine), None)


def _after_flush(session: Session, _context) -> None:
    if not _wakers:
        return
    waker = _wakers.get(_key(session.get_bind()))
    if waker is None or waker in session.info.get("after_commit", []):
        return
    if any(isinstance(obj, WATCHED) for group in (session.new, session.dirty, session.deleted) for obj in group):
        after_commit(session, waker)
