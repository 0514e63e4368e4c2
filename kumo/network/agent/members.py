"""Remote-group membership: every address of every port in the security groups that rules name as
``remote_group_id``, on any host — kept between passes, so a pass does not read every port of the cloud.

The first read (and one every ``RESYNC`` seconds, and after ``reset``) scans the ports of the groups'
projects; a group newly named by a rule is scanned when it first appears; after that a pass reads only
the ports a commit touched (``touch``, fed by ``wake`` with the ids of the ports and addresses each commit
changed), and changes the counts of their addresses. An address is counted once per port holding it, so
two ports with one address (on two networks) keep it a member until both let go.

``read`` answers per group: single addresses (IPv4, IPv6) as sets, which the firewall keeps in nft named
sets changed element by element; and prefixes (allowed address pairs with a prefix) collapsed, which go
whole into interval sets.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.network.models import IPAllocation, Port, SecurityGroup

RESYNC = 600.0  # seconds between whole reads (a safety net: commits made by another process give no hints)
CHUNK = 500  # ids per IN (…) query


@dataclass(frozen=True)
class GroupMembers:
    hosts4: frozenset[str]
    hosts6: frozenset[str]
    prefixes4: tuple[str, ...]  # collapsed, "a.b.c.d/n"
    prefixes6: tuple[str, ...]


EMPTY = GroupMembers(frozenset(), frozenset(), (), ())


def classify(address: str) -> tuple[int, str] | None:
    """(slot, normalised text): 0 an IPv4 host, 1 an IPv6 host, 2 an IPv4 prefix, 3 an IPv6 prefix."""
    try:
        net = ipaddress.ip_network(address, strict=False)
    except ValueError:
        return None
    v6 = net.version == 6
    if net.prefixlen == net.max_prefixlen:
        return int(v6), str(net.network_address)
    return 2 + int(v6), str(net)


class Members:
    def __init__(self):
        self._lock = threading.Lock()
        self._touched: set[str] = set()
        self._counts: dict[str, list[Counter]] = {}  # group → [hosts4, hosts6, prefixes4, prefixes6]
        self._ports: dict[str, tuple[tuple[str, ...], tuple[tuple[int, str], ...]]] = {}  # port → (groups, addresses)
        self._full_at: float | None = None
        self.scanned = 0  # ports read by whole scans (tests: a pass after a small change scans none)

    def touch(self, port_ids) -> None:
        """Ports a commit created, changed or deleted (their addresses or groups may have changed)."""
        if port_ids:
            with self._lock:
                self._touched.update(port_ids)

    def reset(self) -> None:
        """Read everything again at the next pass (after a failed pass, at start)."""
        with self._lock:
            self._full_at = None

    def take(self) -> tuple[set[str], bool]:
        """The hints so far, and whether the next read must be whole; call before the pass's read transaction
        begins (a commit whose hint is taken is then visible to it; a later one brings its own hint)."""
        with self._lock:
            touched, self._touched = self._touched, set()
            full = self._full_at is None or time.monotonic() - self._full_at > RESYNC
            if full:
                self._full_at = time.monotonic()
        return touched, full

    def read(self, db: Session, group_ids, taken: tuple[set[str], bool] | None = None) -> dict[str, GroupMembers]:
        """Members of ``group_ids`` as of ``db``'s snapshot; ``taken``: from ``take`` (default: take now)."""
        touched, full = taken if taken is not None else self.take()
        try:
            return self._read(db, set(group_ids), touched, full)
        except BaseException:
            self.reset()
            raise

    def _read(self, db: Session, wanted: set[str], touched: set[str], full: bool) -> dict[str, GroupMembers]:
        if full:
            self._counts, self._ports = {}, {}
        for gone in set(self._counts) - wanted:  # no rule names it any more
            del self._counts[gone]
            for pid, (groups, addresses) in list(self._ports.items()):
                if gone in groups:
                    self._set(pid, tuple(g for g in groups if g != gone), addresses)
        new = wanted - set(self._counts)
        for gid in new:
            self._counts[gid] = [Counter(), Counter(), Counter(), Counter()]
        if new:
            self._scan(db, new, wanted)
        if touched and not full:
            self._refresh(db, sorted(touched), wanted)
        return {gid: self._render(gid) for gid in wanted}

    def _set(self, port_id: str, groups: tuple[str, ...], addresses: tuple[tuple[int, str], ...]) -> None:
        """Make ``port_id`` count for exactly ``groups`` with ``addresses`` (undoing what it counted before)."""
        old = self._ports.pop(port_id, None)
        if old is not None:
            for gid in old[0]:
                counts = self._counts.get(gid)
                if counts is not None:
                    for slot, text in old[1]:
                        c = counts[slot]
                        c[text] -= 1
                        if c[text] <= 0:
                            del c[text]
        if groups and addresses:
            self._ports[port_id] = (groups, addresses)
            for gid in groups:
                counts = self._counts[gid]
                for slot, text in addresses:
                    counts[slot][text] += 1

    def _scan(self, db: Session, new: set[str], wanted: set[str]) -> None:
        """Every port of the new groups' projects that is in one of them (with all its wanted groups)."""
        projects = set(db.scalars(sa.select(SecurityGroup.project_id).where(SecurityGroup.id.in_(sorted(new)))))
        if not projects:
            return
        rows = db.execute(sa.select(Port.id, Port.security_group_ids, Port.allowed_address_pairs)
                          .where(Port.project_id.in_(sorted(projects)))).all()
        self.scanned += len(rows)
        keep = {pid: (groups, pairs) for pid, groups, pairs in rows if new & set(groups or ())}
        ips: dict[str, list[str]] = {pid: [] for pid in keep}
        for pid, address in db.execute(sa.select(IPAllocation.port_id, IPAllocation.ip_address)
                                       .join(Port, Port.id == IPAllocation.port_id)
                                       .where(Port.project_id.in_(sorted(projects)))):
            if pid in ips:
                ips[pid].append(address)
        for pid, (groups, pairs) in keep.items():
            self._set(pid, *self._membership(groups, pairs, ips[pid], wanted))

    def _refresh(self, db: Session, port_ids: list[str], wanted: set[str]) -> None:
        """The touched ports as they are now (gone ones count no more)."""
        found: dict[str, tuple] = {}
        ips: dict[str, list[str]] = {}
        for i in range(0, len(port_ids), CHUNK):
            chunk = port_ids[i:i + CHUNK]
            for pid, groups, pairs in db.execute(sa.select(Port.id, Port.security_group_ids,
                                                           Port.allowed_address_pairs).where(Port.id.in_(chunk))):
                found[pid] = (groups, pairs)
                ips[pid] = []
            for pid, address in db.execute(sa.select(IPAllocation.port_id, IPAllocation.ip_address)
                                           .where(IPAllocation.port_id.in_(chunk))):
                if pid in ips:
                    ips[pid].append(address)
        for pid in port_ids:
            if pid in found:
                self._set(pid, *self._membership(*found[pid], ips[pid], wanted))
            else:
                self._set(pid, (), ())

    @staticmethod
    def _membership(groups, pairs, ips: list[str], wanted: set[str]):
        mine = tuple(sorted(wanted.intersection(groups or ())))
        addresses = [*ips, *(p.get("ip_address", "") for p in pairs or [])]
        return mine, tuple(dict.fromkeys(c for c in map(classify, addresses) if c is not None))

    def _render(self, gid: str) -> GroupMembers:
        h4, h6, p4, p6 = self._counts[gid]
        if not (h4 or h6 or p4 or p6):
            return EMPTY
        return GroupMembers(frozenset(h4), frozenset(h6), _collapsed(p4), _collapsed(p6))


def _collapsed(prefixes) -> tuple[str, ...]:
    if not prefixes:
        return ()
    return tuple(str(n) for n in ipaddress.collapse_addresses(ipaddress.ip_network(p) for p in sorted(prefixes)))
