"""Wake the agent after a committed change to networking rows — only when the change can matter to it.

A SQLAlchemy ``after_flush`` listener notices new, changed or deleted networking objects in a session and
sums them up per transaction as a ``Change``: the ports whose rows or addresses it touched (the agent re-reads
only those ports' remote-group memberships), their networks, binding hosts and security groups (before and
after), and whether anything else the data plane follows changed (security-group rules, routers, floating IPs,
service chains: ``full``). Changes to names, descriptions, tags and timestamps alone are left out. Through
``kumo.db.after_commit`` the waker registered for that database gets the ``Change`` once the transaction
commits (never on rollback); the agent (``Agent.wants``) decides whether it costs a pass, a members-only
refresh, or nothing. This covers every API path without each handler having to remember.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from kumo.db import after_commit
from kumo.network import models
from kumo.network.sfc import models as sfc_models

WATCHED = (models.Network, models.Subnet, models.Port, models.IPAllocation, models.SecurityGroup,
           models.SecurityGroupRule, models.Router, models.FloatingIP, sfc_models.FlowClassifier,
           sfc_models.PortPair, sfc_models.PortPairGroup, sfc_models.PortChain)
COSMETIC = frozenset({"name", "description", "tags", "created_at", "updated_at", "revision_number"})
_wakers: dict[str, object] = {}
_PENDING = "kumo.network.agent.wake"  # session.info: (the transaction's Change, its after-commit action)
_lock = threading.Lock()


@dataclass
class Change:
    """What one transaction changed, as far as a host's agent cares."""
    full: bool = False  # rules, groups, routers, floating IPs, chains, or a row not understood: a whole pass
    ports: set = field(default_factory=set)  # ports whose rows or addresses changed (remote-group members)
    named: set = field(default_factory=set)  # ports changed only cosmetically (a pass if the agent serves them)
    networks: set = field(default_factory=set)  # networks whose rows, subnets, ports or addresses changed
    hosts: set = field(default_factory=set)  # binding hosts of those ports, before and after
    groups: set = field(default_factory=set)  # security groups of those ports, before and after
    grouped: set = field(default_factory=set)  # the ports whose groups are in ``groups``

    @property
    def unknown_groups(self) -> bool:
        """Some touched port's groups are not known (an address changed, the port row was not loaded)."""
        return bool(self.ports - self.grouped)

    def __bool__(self) -> bool:
        return bool(self.full or self.ports or self.named or self.networks)


def _key(bind) -> str:
    return str(getattr(bind, "url", bind))


def register(database, waker) -> None:
    """``waker(change)`` after every commit to ``database`` that changed networking rows."""
    with _lock:
        _wakers[_key(database.engine)] = waker
        if not event.contains(Session, "after_flush", _after_flush):
            event.listen(Session, "after_flush", _after_flush)


def unregister(database) -> None:
    with _lock:
        _wakers.pop(_key(database.engine), None)


def _values(state, attr: str) -> list:
    """Every value ``attr`` had in this flush (before and after), without loading anything."""
    history = state.attrs[attr].history
    found = [*history.added, *history.unchanged, *history.deleted]
    if not found and attr in state.dict:
        found = [state.dict[attr]]
    return found


def _note(change: Change, obj, dirty: bool) -> None:
    state = inspect(obj)
    if dirty:
        changed = {a.key for a in state.attrs if a.history.has_changes()}
        if not changed:
            return
        if changed <= COSMETIC:
            if isinstance(obj, models.Port):
                change.named.add(state.identity[0] if state.identity else obj.id)
            return
    if isinstance(obj, models.Port):
        port_id = state.dict.get("id")
        if port_id is None:
            change.full = True
            return
        change.ports.add(port_id)
        for attr, into in (("network_id", change.networks), ("binding_host_id", change.hosts)):
            values = _values(state, attr)
            if not values:
                change.full = True  # not loaded: cannot tell
            into.update(v for v in values if v)
        owners = _values(state, "device_owner")
        if not owners or any(o and o.startswith("network:") for o in owners):
            change.full = True  # DHCP and router ports: whoever serves them
        groups = _values(state, "security_group_ids")
        if groups:
            change.grouped.add(port_id)
            change.groups.update(g for gs in groups for g in (gs or ()))
    elif isinstance(obj, models.IPAllocation):
        port_id, network_id = state.dict.get("port_id"), state.dict.get("network_id")
        if port_id is None or network_id is None:
            change.full = True
        else:
            change.ports.add(port_id)
            change.networks.add(network_id)
    elif isinstance(obj, (models.Network, models.Subnet)):
        network_id = state.dict.get("id" if isinstance(obj, models.Network) else "network_id")
        if network_id is None:
            change.full = True
        else:
            change.networks.add(network_id)
    else:
        change.full = True


def _after_flush(session: Session, _context) -> None:
    if not _wakers:
        return
    waker = _wakers.get(_key(session.get_bind()))
    if waker is None:
        return
    found = [(obj, dirty) for dirty, group in ((False, session.new), (True, session.dirty), (False, session.deleted))
             for obj in group if isinstance(obj, WATCHED)]
    if not found:
        return
    pending = session.info.get(_PENDING)
    if pending is None or pending[1] not in session.info.get("after_commit", []):
        change = Change()
        action = lambda: waker(change) if change else None  # noqa: E731 — the whole transaction, once committed
        pending = session.info[_PENDING] = (change, action)
        after_commit(session, action)
    for obj, dirty in found:
        _note(pending[0], obj, dirty)
