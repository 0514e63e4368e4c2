"""Stable interface names inside instances, as a VM's kernel gives them.

An instance's port is ``ethN`` inside it: at boot in the order the ports were created (the first network is
``eth0``); a port attached later takes the lowest free ``ethN``; once named, an interface keeps its name for
the life of the instance's network namespace — an attach or a detach never renames the others. Likewise each
IP family's default route stays on the interface that has it while that port is there (and still has a
gateway for the family); otherwise it goes to the first interface, by name, that has one.

The names live in the agent, not the database: they are a property of the namespace and die with it. An
agent that meets an instance for the first time (at start, after a restart of Kumo, or when the instance's
namespace is new) learns the names and default routes already in it — one link and route dump inside the
namespace, matched by MAC — so a restart renames nothing. Later passes only look at the namespace's
identity (one ``stat``) and at ports new to the instance, which need no look inside.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field

from kumo.network.agent import plumbing

log = logging.getLogger("kumo.network.agent")
ETH = re.compile(r"^eth(\d+)$")


@dataclass
class _Instance:
    netns: tuple[int, int]  # (device, inode) of the namespace handle: a new namespace is a new instance
    names: dict[str, str] = field(default_factory=dict)  # port id → ethN
    gateways: dict[int, str] = field(default_factory=dict)  # ip version → the port id holding the default route


def _index(name: str) -> int:
    match = ETH.match(name)
    return int(match.group(1)) if match else 1 << 30


def _identity(path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def learn(netns) -> tuple[dict[str, str], dict[int, str]]:
    """What the namespace holds now: MAC → ``ethN`` name, and ip version → the MAC of the link holding the
    main table's default route."""
    macs, routes = {}, {}
    with plumbing.netlink(netns) as ip:
        by_index = {}
        for name, link in plumbing.links(ip).items():
            by_index[link["index"]] = link
            if ETH.match(name or "") and link["mac"]:
                macs.setdefault(link["mac"].lower(), name)
        for version, family in ((4, 2), (6, 10)):
            for route in ip.get_routes(family=family, table=254):
                link = by_index.get(route.get_attr("RTA_OIF"))
                if route["dst_len"] == 0 and route.get_attr("RTA_GATEWAY") and link and link["mac"]:
                    routes.setdefault(version, link["mac"].lower())
    return macs, routes


class InterfaceNames:
    """Per instance (``device_id``): which port is which ``ethN``, and which holds each default route."""

    def __init__(self, learn=learn):
        self._learn = learn
        self._instances: dict[str, _Instance] = {}

    def assign(self, ports) -> None:
        """Set ``ifname`` and ``gateways`` of ``ports`` (``state.PortWant``, every instance port this host
        plugs, in creation order per instance; ``offers`` is each port's gateways) in place."""
        by_device: dict[str, list] = {}
        for port in ports:
            by_device.setdefault(port.device_id, []).append(port)
        for device in list(self._instances):
            if device not in by_device:
                del self._instances[device]  # gone from this host: met anew if it comes back
        for device, wanted in by_device.items():
            self._assign(device, wanted)

    def _assign(self, device: str, ports) -> None:
        identity = _identity(ports[0].netns)
        inst = self._instances.get(device)
        if inst is None or inst.netns != identity:
            inst = self._meet(device, ports, identity)
        ids = {p.id for p in ports}
        inst.names = {pid: name for pid, name in inst.names.items() if pid in ids}  # a detach frees its name
        used = set(inst.names.values())
        for port in ports:  # new ports, in creation order: the lowest free ethN
            if port.id not in inst.names:
                n = 0
                while f"eth{n}" in used:
                    n += 1
                inst.names[port.id] = f"eth{n}"
                used.add(f"eth{n}")
            port.ifname = inst.names[port.id]
        ordered = sorted(ports, key=lambda p: (_index(p.ifname), p.ifname))
        by_id = {p.id: p for p in ports}
        for version in sorted({v for p in ports for v in p.offers}):
            holder = by_id.get(inst.gateways.get(version))
            if holder is None or version not in holder.offers:
                holder = next(p for p in ordered if version in p.offers)
                inst.gateways[version] = holder.id
        for version in list(inst.gateways):
            if inst.gateways[version] not in by_id or version not in by_id[inst.gateways[version]].offers:
                del inst.gateways[version]
        for port in ports:
            port.gateways = {v: gw for v, gw in port.offers.items() if inst.gateways.get(v) == port.id}

    def _meet(self, device: str, ports, identity) -> _Instance:
        """An instance seen for the first time (or its namespace is new): learn the names already in it."""
        inst = _Instance(identity)
        if identity is None:
            return inst
        try:
            macs, routes = self._learn(ports[0].netns)
        except Exception:  # the namespace went away mid-pass: nothing to learn; plugging it fails too
            log.warning("could not read the interfaces of instance %s", device, exc_info=True)
            return inst
        taken = set()
        for port in ports:
            name = macs.get(port.mac.lower())
            if name and name not in taken:
                inst.names[port.id] = name
                taken.add(name)
        holders = {p.mac.lower(): p.id for p in ports if p.id in inst.names}
        inst.gateways = {v: holders[mac] for v, mac in routes.items() if mac in holders}
        self._instances[device] = inst
        return inst
