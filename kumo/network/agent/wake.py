"""Wake the agent after any committed change to networking rows.

A SQLAlchemy ``after_flush`` listener notices new, changed or deleted networking objects in a
session and, through ``kumo.db.after_commit``, calls the waker registered for that database once
the transaction commits (never on rollback) with the ids of the ports whose rows or addresses the
transaction touched (the agent re-reads only those ports' remote-group memberships). This covers every
API path (ports, networks, subnets, security groups and rules) without each handler having to remember.
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
_PENDING = "kumo.network.agent.wake"  # session.info: (ports touched by the transaction, its after-commit action)
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
    if waker is None:
        return
    changed, ports = False, set()
    for group in (session.new, session.dirty, session.deleted):
        for obj in group:
            if isinstance(obj, WATCHED):
                changed = True
                if isinstance(obj, models.Port):
                    ports.add(obj.id)
                elif isinstance(obj, models.IPAllocation):
                    ports.add(obj.port_id)
    if not changed:
        return
    pending = session.info.get(_PENDING)
    if pending is None or pending[1] not in session.info.get("after_commit", []):
        touched: set[str] = set()
        action = lambda: waker(touched)  # noqa: E731 — the ports of the whole transaction, once it committed
        pending = session.info[_PENDING] = (touched, action)
        after_commit(session, action)
    pending[0].update(ports)
