"""Trunk ports' data plane: containers nested in instances, each on its own Neutron port, the Kuryr way.

A trunk's parent port is an ordinary instance port (``tap…`` on network A's bridge, ``ethN`` inside the
instance). For each subport (network B, VLAN id V) the agent makes, as Kuryr's CNI daemon would:

- on the host, a veth pair ``tk…`` (a port of bridge B, where the subport's security groups and
  anti-spoofing apply, by its MAC and by ``iifname tk…``) and ``tq…``; the VLAN program (``bpf/vlan.c``)
  on the parent tap's ingress pops tag V and sends the frame out of ``tq…`` (so it enters bridge B
  through ``tk…``); on ``tq…``'s ingress it pushes V and sends the frame out of the parent tap;
- inside the instance, a nested container: a network namespace (handle
  ``<data-dir>/instances/<uuid>/containers/<port>``) holding ``eth0`` with the subport's MAC, addresses,
  default route and MTU; its veth peer ``ct…`` in the instance's namespace is joined to the parent's
  ``ethN`` by the same program (pop V on ``ethN``'s ingress → out of ``ct…``; push V on ``ct…``'s ingress
  → out of ``ethN``).

So a subport's frames cross the trunk link tagged, with one encapsulation only. Untagged frames keep going
to bridge A; a tagged frame with no subport behind its tag is dropped. One program and map per network
namespace, pinned under a private bpffs (``<run dir>/<host ns>/bpf``). Subports go ``ACTIVE`` with
``binding:host_id`` once plugged; a trunk goes ``ACTIVE``, ``DEGRADED`` (some subports failed), ``ERROR``
(its parent side failed) or ``DOWN`` (its instance is not here), as Neutron's trunk statuses go.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

import sqlalchemy as sa

from kumo.network.agent import bpf, names, plumbing
from kumo.network.agent.state import Desired, SubportWant, TrunkWant
from kumo.network.models import Port
from kumo.network.trunk_models import Trunk

log = logging.getLogger("kumo.network.agent")
RECHECK_EVERY = 20  # passes between looks at attached programs and inside containers again
HOST_PINS = "host"


class Trunks:
    def __init__(self, data_dir: Path, namespace: str, root: Path):
        self.data_dir = Path(data_dir)
        self.namespace = namespace
        self.bpffs = root / "bpf"
        self.build_dir = names.run_dir(self.data_dir) / "bpf-build"  # only if the package dir is read-only
        self._attached: set[tuple[str, str, int, int]] = set()  # (netns, link, ifindex, program id) attached
        self._programs: dict[Path, int] = {}  # pin directory → the id of the program pinned there
        self._applied: dict[str, tuple] = {}  # container handle → (configuration applied inside, ct… index)
        self._inner: dict[tuple[str, str, int], int] = {}  # (instance netns, parent ifname, tap index) → ifindex
        # containers whose security-group rules have been applied: only these get their link up, so a
        # container's first frames (its ARP) are not dropped by the fail-closed ruleset of a pass under way
        self._ready: set[str] = set()
        self._passes = 0
        self.up: dict[str, str] = {}  # subport id → its host link, plugged in the last pass
        self.failed: set[str] = set()  # subports that could not be plugged in the last pass
        self.live: set[str] = set()  # trunks whose parent side is in place
        self.broken: set[str] = set()  # trunks whose parent side failed

    # -- one pass ---------------------------------------------------------------------------

    def converge(self, ip, desired: Desired, bridges: dict[str, int], taps: dict[str, str]) -> dict[str, str]:
        """Make the kernel match ``desired.trunks``; returns subport id → host link of the plugged ones."""
        self._passes += 1
        if self._passes % RECHECK_EVERY == 1:
            self._attached, self._applied, self._inner = set(), {}, {}
        self.up, self.failed, self.live, self.broken = {}, set(), set(), set()
        present = [t for t in desired.trunks.values() if t.parent is not None]
        subs = [s for t in present for s in t.subports]
        live = [t for t in present if t.parent.id in taps]
        wanted_links = {f(s.port.id) for s in subs for f in (names.trunk_link, names.trunk_peer)}
        existing = plumbing.links(ip)
        for name, link in list(existing.items()):
            if name.startswith((names.TRUNK_LINK, names.TRUNK_PEER)) and name not in wanted_links:
                plumbing.delete_link(ip, link["index"])
                del existing[name]
        sweep_containers(self.data_dir, {str(s.port.netns) for s in subs})
        if not live:
            self._sweep_pins(set())
            return {}
        host_ns, host_pins = f"/run/netns/{self.namespace}", self.bpffs / HOST_PINS
        try:
            bpf.mount(self.bpffs)
            self._load(host_pins)
        except Exception:  # no eBPF here (the program not built, no bpftool): every trunk in ERROR
            log.exception("no VLAN program for trunks in %s", self.namespace)
            self.broken = {t.id for t in live}
            return {}
        host_map: dict[tuple[int, int], tuple[int, int]] = {}
        inner_maps: dict[str, dict[tuple[int, int], tuple[int, int]]] = {}
        for trunk in live:  # the program stays on a trunk's parent while the trunk is there, subports or not
            try:
                tap = existing[taps[trunk.parent.id]]["index"]
                self._attach(host_ns, taps[trunk.parent.id], tap, host_pins)
                pins = self.bpffs / f"i-{trunk.device_id}"
                self._load(pins)
                parent = self._inner_index(trunk.parent.netns, trunk.parent.ifname, tap)
                self._attach(str(trunk.parent.netns), trunk.parent.ifname, parent, pins)
            except Exception:
                log.exception("trunk %s: could not prepare its parent port", trunk.id)
                self.broken.add(trunk.id)
                continue
            self.live.add(trunk.id)
            inner = inner_maps.setdefault(trunk.device_id, {})
            for sub in trunk.subports:
                try:
                    (_, tq), made = self._host_link(ip, existing, sub, bridges[sub.port.network_id])
                    self._attach(host_ns, names.trunk_peer(sub.port.id), tq, host_pins, fresh=made)
                    ct, made = self._container(trunk, sub, tap)
                    self._attach(str(trunk.parent.netns), names.container_link(sub.port.id), ct, pins, fresh=made)
                except Exception:
                    log.exception("trunk %s: could not plug subport %s", trunk.id, sub.port.id)
                    self.failed.add(sub.port.id)
                    continue
                host_map[(tap, sub.vid)] = (tq, 0)  # tagged from the instance: pop, into bridge B
                host_map[(tq, 0)] = (tap, sub.vid)  # from bridge B: push, out to the instance
                inner[(parent, sub.vid)] = (ct, 0)
                inner[(ct, 0)] = (parent, sub.vid)
                self.up[sub.port.id] = names.trunk_link(sub.port.id)
        for device, entries in inner_maps.items():
            try:
                with bpf.VlanMap(self.bpffs / f"i-{device}" / "vlan_map") as vmap:
                    vmap.sync(entries)
            except Exception:
                log.exception("instance %s: could not update its VLAN map", device)
                for trunk in live:
                    if trunk.device_id == device:
                        self.failed |= {s.port.id for s in trunk.subports}
        self.up = {pid: link for pid, link in self.up.items() if pid not in self.failed}
        with bpf.VlanMap(host_pins / "vlan_map") as vmap:
            vmap.sync(host_map)
        self._sweep_pins({HOST_PINS} | {f"i-{device}" for device in inner_maps})
        return dict(self.up)

    def _load(self, pins: Path) -> int:
        if pins not in self._programs or not (pins / "prog").exists():
            self._programs[pins] = bpf.load(pins, self.build_dir)
        return self._programs[pins]

    def _attach(self, netns: str, ifname: str, index: int, pins: Path, fresh: bool = False) -> None:
        """The program pinned in ``pins`` on the link's ingress (not another one: a namespace's program can
        have been loaded anew since). ``fresh``: the link was just made, nothing is on it."""
        key = (netns, ifname, index, self._programs[pins])
        if key not in self._attached:
            if fresh or bpf.attached(netns, ifname) != self._programs[pins]:
                bpf.attach(netns, ifname, pins)
            self._attached.add(key)

    def _inner_index(self, netns: Path, ifname: str, tap: int) -> int:
        """``ifname``'s index in the instance (remembered while its host end, index ``tap``, stays the same)."""
        key = (str(netns), ifname, tap)
        if key not in self._inner:
            with netlink(netns) as inner:
                found = inner.link_lookup(ifname=ifname)
            if not found:
                raise plumbing.PlumbingError(f"no {ifname} in {netns}")
            self._inner[key] = found[0]
        return self._inner[key]

    def _host_link(self, ip, existing: dict, sub: SubportWant, bridge: int) -> tuple[tuple[int, int], bool]:
        """The veth pair ``tk…`` (on the subport's bridge) – ``tq…``: their indexes, and whether made now."""
        tk_name, tq_name = names.trunk_link(sub.port.id), names.trunk_peer(sub.port.id)
        tk, tq = existing.get(tk_name), existing.get(tq_name)
        made = tk is None or tq is None or tk["kind"] != "veth"
        if made:
            for link in (tk, tq):
                if link is not None:
                    plumbing.delete_link(ip, link["index"])
            ip.link("add", ifname=tk_name, kind="veth", peer={"ifname": tq_name, "mtu": sub.port.mtu})
            tk = {"index": ip.link_lookup(ifname=tk_name)[0], "master": None, "mtu": None, "up": False}
            tq = {"index": ip.link_lookup(ifname=tq_name)[0], "mtu": None, "up": False}
            existing[tk_name], existing[tq_name] = tk, tq
        if tq["mtu"] != sub.port.mtu or not tq["up"]:
            ip.link("set", index=tq["index"], mtu=sub.port.mtu, state="up")
        if tk["master"] != bridge or tk["mtu"] != sub.port.mtu or not tk["up"]:
            ip.link("set", index=tk["index"], master=bridge, mtu=sub.port.mtu, state="up")
        return (tk["index"], tq["index"]), made

    def _container(self, trunk: TrunkWant, sub: SubportWant, tap: int) -> tuple[int, bool]:
        """The nested container's namespace and its veth (``eth0`` inside, ``ct…`` in the instance); returns
        the index of ``ct…``, and whether it was made now. What was applied is not looked at again while the
        parent's host end (index ``tap``) stays the same, except every ``RECHECK_EVERY`` passes."""
        port, handle, ct_name = sub.port, Path(sub.port.netns), names.container_link(sub.port.id)
        made = _ensure_netns(handle)
        if made:
            self._ready.discard(str(handle))
        up = port.admin_up and str(handle) in self._ready
        config = (port.mac, port.mtu, tuple(port.addresses), tuple(sorted(port.gateways.items())), up, tap)
        applied = self._applied.get(str(handle))
        if applied and not made and applied[0] == config:
            return applied[1], False
        with netlink(trunk.parent.netns) as inner:
            found = inner.link_lookup(ifname=ct_name)
            with netlink(handle) as box:
                peer = plumbing._find_by_mac(box, port.mac) if found else None
                fresh = peer is None
                if fresh:
                    if found:
                        plumbing.delete_link(inner, found[0])
                    temp = names.temp(port.id)
                    stale = inner.link_lookup(ifname=temp)
                    if stale:
                        plumbing.delete_link(inner, stale[0])
                    inner.link("add", ifname=ct_name, kind="veth",
                               peer={"ifname": temp, "address": port.mac, "mtu": port.mtu})
                    inner.link("set", index=inner.link_lookup(ifname=temp)[0], net_ns_fd=str(handle))
                    peer = plumbing._find_by_mac(box, port.mac)
                    if peer is None:
                        raise plumbing.PlumbingError(f"the veth end for {port.mac} did not arrive in {handle}")
                index = inner.link_lookup(ifname=ct_name)[0]
                inner.link("set", index=index, mtu=port.mtu, state="up")
                plumbing._configure_inside(box, peer, port.ifname, port.mac, port.mtu, port.addresses,
                                           port.gateways, up)
        self._applied[str(handle)] = (config, index)
        return index, fresh

    def _bring_up(self, sub: SubportWant) -> None:
        """The subport's rules are in place: its container's link comes up (addresses, default route)."""
        port, handle = sub.port, Path(sub.port.netns)
        with netlink(handle) as box:
            inside = plumbing._find_by_mac(box, port.mac)
            if inside is None:
                return
            plumbing._configure_inside(box, inside, port.ifname, port.mac, port.mtu, port.addresses,
                                       port.gateways, True)
        self._ready.add(str(handle))
        self._applied.pop(str(handle), None)  # the next pass sees the configuration it now has

    def _sweep_pins(self, keep: set[str]) -> None:
        """Unpin the programs of namespaces no longer served, their maps emptied first (a program stays
        attached to a link that outlives its trunk, passing untagged frames and dropping tagged ones)."""
        if os.path.ismount(self.bpffs):
            for path in self.bpffs.iterdir():
                if path.name not in keep:
                    _empty(path)
                    shutil.rmtree(path, ignore_errors=True)
                    self._programs.pop(path, None)
        if not keep:
            bpf.unmount(self.bpffs)
            self._programs = {}

    # -- statuses ---------------------------------------------------------------------------

    def record(self, database, desired: Desired, host: str, plugged: dict[str, str]) -> None:
        """Subports ``ACTIVE`` (and bound to this host) once plugged — and still in the agent's ``plugged``
        after its security groups applied —, ``DOWN`` otherwise; trunk statuses."""
        ports: dict[str, tuple[str, str]] = {}
        trunks: dict[str, str] = {}
        for trunk in desired.trunks.values():
            if trunk.id in self.broken:
                status = "ERROR"
            elif trunk.parent is None or trunk.id not in self.live:
                status = "DOWN"
            elif any(s.port.id in self.failed for s in trunk.subports):
                status = "DEGRADED"
            else:
                status = "ACTIVE"
            if status != trunk.status:
                trunks[trunk.id] = status
            for sub in trunk.subports:
                up = sub.port.id in self.up and sub.port.id in plugged
                if up and sub.port.admin_up and str(sub.port.netns) not in self._ready:
                    try:
                        self._bring_up(sub)
                    except Exception:
                        log.exception("subport %s: could not bring its container's link up", sub.port.id)
                        up = False
                want = ("ACTIVE" if up and sub.port.admin_up else "DOWN", host if up else sub.host)
                if want != (sub.status, sub.host):
                    ports[sub.port.id] = (*want, sub.status, sub.host)
        if not ports and not trunks:
            return
        read = {t.id: t.status for t in desired.trunks.values()}
        # Core UPDATEs, not the ORM: a status change must not wake the agent. Each applies only to a row still
        # as this pass read it: what changed meanwhile (the parent's server deleted: trunk and subports DOWN,
        # unbound) is newer than this pass and must not be overwritten by it.
        with database.session() as db:
            for port_id, (status, bound, was_status, was_bound) in ports.items():
                db.execute(sa.update(Port).where(Port.id == port_id, Port.status == was_status,
                                                 Port.binding_host_id == was_bound).values(
                    status=status, binding_host_id=bound, binding_vif_type="ovs" if bound else "unbound"))
            for trunk_id, status in trunks.items():
                db.execute(sa.update(Trunk).where(Trunk.id == trunk_id, Trunk.status == read[trunk_id])
                           .values(status=status))

    # -- removal ----------------------------------------------------------------------------

    def teardown(self) -> None:
        self._attached, self._applied, self._inner, self.up, self._ready = set(), {}, {}, {}, set()
        sweep_containers(self.data_dir, set())
        self._sweep_pins(set())


def _empty(pins: Path) -> None:
    try:
        with bpf.VlanMap(pins / "vlan_map") as vmap:
            vmap.sync({})
    except OSError:
        pass


def netlink(netns) -> plumbing.IPRoute:
    """A netlink socket inside the namespace at ``netns`` (a path): ``plumbing.netlink``."""
    return plumbing.netlink(netns)


def _ensure_netns(handle: Path) -> bool:
    """A persistent network namespace bound at ``handle`` (loopback up); True if made now."""
    if plumbing.netns_alive(handle):
        return False
    if not plumbing.netns_alive(handle.parent.parent / "netns"):  # the instance went (or is going) away
        raise plumbing.PlumbingError(f"the instance of {handle} is gone")
    handle.parent.mkdir(exist_ok=True)  # never the instance's directory itself: the compute driver owns it
    handle.touch()
    proc = subprocess.run(["unshare", f"--net={handle}", "ip", "link", "set", "lo", "up"], capture_output=True,
                          text=True, timeout=30, check=False)
    if proc.returncode != 0:
        raise plumbing.PlumbingError(f"could not make the namespace {handle}: {proc.stderr.strip()}")
    return True


def sweep_containers(data_dir: Path, keep: set[str]) -> None:
    """Remove every nested container's namespace under this data dir's instances but those in ``keep``."""
    for handle in Path(data_dir).glob("instances/*/containers/*"):
        if str(handle) in keep:
            continue
        instance = handle.parent.parent / "netns"
        if plumbing.netns_alive(instance):  # its veth end in the instance goes at once
            try:
                with netlink(instance) as inner:
                    for index in inner.link_lookup(ifname=names.container_link(handle.name)):
                        plumbing.delete_link(inner, index)
            except Exception:
                log.exception("could not remove the container link of %s", handle)
        subprocess.run(["umount", str(handle)], capture_output=True, timeout=30, check=False)
        try:
            handle.unlink()
            handle.parent.rmdir()
            if not instance.exists():  # made while the instance was being destroyed: what is left is ours
                handle.parent.parent.rmdir()
        except OSError:
            pass


def cleanup(data_dir: Path) -> None:
    """``kumo reset``: every nested container and every agent's bpffs of this data dir."""
    sweep_containers(data_dir, set())
    root = names.run_dir(data_dir)
    if root.is_dir():
        for host_dir in root.iterdir():
            bpf.unmount(host_dir / "bpf")
