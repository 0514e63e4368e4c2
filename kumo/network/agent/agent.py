"""The reconciler: make one host's kernel match what the database says, idempotently.

Each pass reads the desired state (``state.read``), makes sure every network it serves DHCP on has
its ``network:dhcp`` port, then converges the host namespace — bridges, instance veths, DHCP
namespaces and dnsmasq, the nftables ruleset — removing whatever is no longer wanted (also what a
crash left behind), and finally records port status: ``ACTIVE`` once plugged, ``DOWN`` otherwise.
With nothing left to serve, the host namespace itself goes.

The work of a pass follows what changed, not the size of the cloud: the desired state covers the ports
bound to this host (and their networks and routers); remote-group members come from ``members.Members``,
which re-reads only the ports commits touched (``touch``, from ``wake``); the firewall applies only the
difference from what it applied last, in one nft transaction. The first pass, and any pass after nft
refused a change, applies the whole ruleset; members are read whole at start and every ``members.RESYNC``.

Most commits cost no pass at all (``wants``, against what the last pass served): a network with no port here,
an unbound port, a rename. One that only changes the members of a group this host applies (an unbound port
elsewhere in it) costs a members refresh: those ports read again and the sets' difference applied against the
last pass's state, without reading the desired state. Commits made while a pass runs are judged again against
what it found, so none is missed; the periodic tick is always a whole pass.
"""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path

import sqlalchemy as sa

from kumo.context import Context
from kumo.errors import KumoError
from kumo.network.agent import dhcp, exposure, firewall, l3, members, names, plumbing, sfc, state, trunks, vxlan
from kumo.network.agent.ifnames import InterfaceNames
from kumo.network.models import Network, Port

log = logging.getLogger("kumo.network.agent")
FULL_CHECK_EVERY = 20  # passes between looks inside every instance (catches changes made from inside)
ADMIN = Context(user_id="kumo-network-agent", roles=frozenset({"admin"}))


class Agent:
    def __init__(self, data_dir: Path, db, host: str = "kumo", tunnel_ip: str | None = None, expose: bool = False):
        self.data_dir = Path(data_dir).resolve()
        self.db = db
        self.host = host
        self.tunnel_ip = tunnel_ip  # this host's VXLAN endpoint; None: networks stay local to the host
        self.expose = expose  # external networks reachable from the host's own namespace (exposure.py)
        self.namespace = names.host_namespace(self.data_dir, host)
        self.root = names.run_dir(self.data_dir) / self.namespace
        self.dhcp_root = self.root / "dhcp"
        self.ra_root = self.root / "ra"  # routers' advertisement daemons (IPv6)
        self._dhcp_up: set[str] = set()
        self._applied: dict[str, tuple] = {}  # link name → the configuration last applied through it
        self._firewall: firewall.Rules | None = None  # the security-group ruleset last applied (None: unknown)
        self.members = members.Members()  # remote groups' members, kept between passes (fed by ``touch``)
        self.steering = sfc.Steering(self.namespace)  # service function chains (their own nft table)
        self._sealed: set[str] = set()  # taps held down because no ruleset could be applied (fail closed)
        self._passes = 0
        self.trunks = trunks.Trunks(self.data_dir, self.namespace, self.root)  # trunk subports, nested containers
        self.pending = False  # ports wait for their instances: look again soon
        self.ifnames = InterfaceNames()  # ethN inside each instance, stable across attach and detach
        # what the last pass served, against which a commit's ``wake.Change`` is judged (``wants``)
        self._lock = threading.Lock()
        self._full, self._refresh = True, False  # the next ``run``: a whole pass, or remote-group members only
        self._served: frozenset | None = None  # networks (None: no pass yet)
        self._own: frozenset = frozenset()  # ports bound here, plugged here, or whose status the agent records
        self._remote: dict | None = None  # remote group → members, as the last pass applied them
        self._late: list | None = None  # changes judged while a pass ran (None: no pass running)
        self._last: tuple | None = None  # (desired, plugged) of the last pass: a members refresh applies against it

    # -- one pass ---------------------------------------------------------------------------

    def touch(self, port_ids) -> None:
        """Ports a commit changed (``wake``): their remote-group memberships are read again at the next pass."""
        self.members.touch(getattr(port_ids, "ports", port_ids))

    def wants(self, change) -> bool:
        """A commit's ``wake.Change``: True when it needs a ``run`` (which then knows what kind of pass)."""
        self.members.touch(change.ports)
        with self._lock:
            if self._late is not None:
                self._late.append(change)  # judged again against what the running pass finds
            return self._judge(change)

    def request_full(self) -> None:
        """The next ``run`` is a whole pass (the periodic tick, start)."""
        with self._lock:
            self._full = True

    def _judge(self, change) -> bool:
        if self._served is None or change.full or self.host in change.hosts or change.networks & self._served \
                or (change.ports | change.named) & self._own:
            self._full = True
            return True
        if change.ports and (change.unknown_groups or change.groups & self._remote.keys()):
            self._refresh = True
            return True
        return False  # nothing this host serves: a network with no port here, an unbound port, a rename

    def run(self) -> None:
        """The worker's entry: a whole pass, or only the remote-group members when that is all commits touched
        (a pass follows if they changed); again while commits made during it turn out to matter."""
        while True:
            with self._lock:
                full, refresh = self._full, self._refresh
                self._full = self._refresh = False
                self._late = []
            try:
                if full or (refresh and not self._refresh_members()):
                    self.reconcile()
            except BaseException:
                self.request_full()
                raise
            finally:
                with self._lock:
                    late, self._late = self._late, None
                    again = [self._judge(c) for c in late]
            if not any(again):
                return

    def _refresh_members(self) -> bool:
        """Re-read the touched ports' memberships and apply what changed in the sets of the groups this host
        applies, against the last pass's state; False when that cannot be done (a whole pass then)."""
        last = self._last
        if self._remote is None or last is None or self._firewall is None or self._sealed:
            return False
        taken = self.members.take()
        if taken[1]:
            self.members.reset()  # a whole read is due: the pass does it
            return False
        with self.db.session(write=False) as db:
            seen = self.members.read(db, self._remote, taken)
        if seen == self._remote:
            return True
        desired, plugged = last
        desired.members = seen
        self._converge_firewall(desired, plugged)
        if self._firewall is None or self._sealed:
            return False
        with self._lock:
            self._remote = dict(seen)
        return True

    def reconcile(self) -> dict[str, str]:
        """Converge; returns the status of every compute port bound to this host."""
        taken = self.members.take()  # before the read transaction: see members.Members.take
        with self.db.session(write=False) as db:
            desired = state.read(db, self.data_dir, self.host, self.members, taken)
            desired.steering = _read_steering(db)
        if self._dhcp_ports(desired):
            with self.db.session(write=False) as db:
                desired = state.read(db, self.data_dir, self.host, self.members, (set(), False))
                desired.steering = _read_steering(db)
        self.pending = desired.waiting
        self.ifnames.assign(desired.ports.values())
        plugged: dict[str, str] = {}
        self._last = None
        if desired.networks:
            plugged = self._converge(desired)
        else:
            self.teardown()
        statuses = {pid: "ACTIVE" if pid in plugged and desired.ports[pid].admin_up else "DOWN"
                    for pid in desired.bound_ids}
        network_owned = {net.dhcp_port["id"]: "ACTIVE" if net.id in self._dhcp_up else "DOWN"
                         for net in desired.networks.values() if net.dhcp_port}
        for router in desired.routers.values():
            for link in router.interfaces + ([router.gateway] if router.gateway else []):
                network_owned[link.port_id] = "ACTIVE" if link.port_id in plugged else "DOWN"
        self._record({**statuses, **network_owned}, desired.statuses)
        self.trunks.record(self.db, desired, self.host, plugged)
        with self._lock:
            self._served = frozenset(desired.networks)
            self._own = frozenset({*desired.ports, *desired.subports(), *desired.bound_ids, *desired.statuses,
                                   *network_owned})
            self._remote = dict(desired.members)
        self._last = (desired, dict(plugged)) if desired.networks else None
        return statuses

    def _dhcp_ports(self, desired: state.Desired) -> bool:
        """Create, fix or delete this host's DHCP ports; True when anything changed."""
        from kumo.network import ipam, ports

        todo = [net for net in desired.networks.values() if net.dhcp_subnets and not (
            net.dhcp_port and net.dhcp_port["subnet_ids"] == {s.id for s in net.dhcp_subnets})]
        if not todo and not desired.stale_dhcp:
            return False  # the common case: no write transaction at all
        with self.db.session() as db:
            for port_id in desired.stale_dhcp:
                port = db.get(Port, port_id)
                if port is not None:
                    ports.delete(db, port)
            for net in todo:
                wanted = {s.id for s in net.dhcp_subnets}
                network = db.get(Network, net.id)
                try:
                    with db.begin_nested():
                        if net.dhcp_port is None:
                            ports.create(db, ADMIN, network, project_id=network.project_id,
                                         device_id=state.dhcp_device_id(self.host, net.id),
                                         device_owner=state.DHCP_OWNER,
                                         fixed_ips=[{"subnet_id": s} for s in sorted(wanted)],
                                         binding={"binding:host_id": self.host})
                        else:
                            port = db.get(Port, net.dhcp_port["id"])
                            keep = [a for a in ipam.fixed_ips(db, port.id) if a["subnet_id"] in wanted]
                            add = [{"subnet_id": s} for s in sorted(wanted - {a["subnet_id"] for a in keep})]
                            ports.update(db, ADMIN, port, {"fixed_ips": keep + add})
                except KumoError as exc:  # an exhausted subnet: no DHCP server there, static addresses still work
                    log.warning("no DHCP port for network %s: %s", net.id, exc)
        return True

    def _converge(self, desired: state.Desired) -> dict[str, str]:
        if plumbing.ensure_namespace(self.namespace, bridge_netfilter=True):
            self._applied, self._firewall = {}, None
            self.steering.forget()
        self._passes += 1
        if self._passes % FULL_CHECK_EVERY == 1:  # now and then, look at everything again (instances, nft)
            self._applied = {}
            self.steering.forget()
            if self._firewall is not None and {"inet kumo", "bridge kumo"} - set(firewall.tables(self.namespace)):
                self._firewall = None  # a table went behind the agent's back: the whole ruleset again
        plugged: dict[str, str] = {}
        self._dhcp_up = set()
        with plumbing.netlink(self.namespace, remember=True) as ip:
            existing = plumbing.links(ip)
            wanted_taps = {names.tap(p) for p in desired.ports}
            wanted_dhcp = {names.dhcp_link(n.id) for n in desired.networks.values() if n.dhcp_port}
            wanted_l3 = l3.wanted_links(desired.routers)
            wanted_vx = {vxlan.link_name(n.id) for n in desired.networks.values() if n.vni} if self.tunnel_ip else set()
            for name, link in existing.items():
                if (name.startswith(names.TAP) and name not in wanted_taps) or \
                        (name.startswith(names.DHCP_LINK) and name not in wanted_dhcp) or \
                        (name.startswith(("qr", "qg")) and name not in wanted_l3) or name.startswith(names.TEMP) or \
                        (name.startswith("vx-") and name not in wanted_vx):
                    plumbing.delete_link(ip, link["index"])
            wanted_bridges = {names.bridge(n) for n in desired.networks}
            for name, link in existing.items():
                if name.startswith(names.BRIDGE) and name not in wanted_bridges:
                    plumbing.delete_link(ip, link["index"])
            existing = plumbing.links(ip)
            bridges = {n.id: plumbing.ensure_bridge(ip, existing, names.bridge(n.id), n.mtu)
                       for n in desired.networks.values()}
            if self.tunnel_ip:
                self._converge_tunnels(ip, existing, desired, bridges)
            existing = plumbing.links(ip)
            for port in desired.ports.values():
                tap = names.tap(port.id)
                up = port.admin_up and tap not in self._sealed
                config = (str(port.netns), port.ifname, port.mac, port.mtu, tuple(port.addresses),
                          tuple(sorted(port.gateways.items())), up)
                try:
                    plumbing.plug(ip, existing, host_name=tap, temp_name=names.temp(port.id),
                                  bridge_index=bridges[port.network_id], target=str(port.netns), ifname=port.ifname,
                                  mac=port.mac, mtu=port.mtu, gateways=port.gateways, up=up,
                                  addresses=[a for a in port.addresses if a[0] not in port.by_ra],
                                  verified=self._applied.get(tap) == config)
                    if self._applied.get(tap) != config and any(":" in a for a, _ in port.addresses):
                        plumbing.accept_ra(str(port.netns), port.ifname)  # SLAAC and routes by RA, as a VM does
                    plugged[port.id] = tap
                    self._applied[tap] = config
                except Exception:  # one instance's failure (it went away mid-pass) must not stop the others
                    self._applied.pop(tap, None)
                    log.exception("could not plug port %s", port.id)
            try:
                plugged.update(self.trunks.converge(ip, desired, bridges, plugged))
            except Exception:
                log.exception("could not set up trunk subports")
            self._converge_dhcp(ip, existing, desired, bridges)
            self._converge_routers(ip, desired, bridges, plugged)
            if self.expose:
                try:
                    exposure.converge(ip, self.namespace, desired, bridges)
                except Exception:
                    log.exception("could not expose the external networks on the host")
        self._converge_firewall(desired, plugged)
        if self._sealed and self._firewall is not None:
            self._unseal(desired, plugged)
        try:
            self.steering.converge(desired, plugged)
        except Exception:  # steering must not stop the rest of the data plane
            self.steering.forget()
            log.exception("could not converge service function chains")
        return plugged

    def _converge_firewall(self, desired: state.Desired, plugged: dict[str, str]) -> None:
        """Apply what changed in the security groups as one transaction; if the kernel refuses it (or what it
        holds is not what the agent thinks), the whole ruleset; if that fails too, fail closed."""
        want = firewall.wanted(desired, plugged)
        if want == self._firewall:
            return
        applied, self._firewall = self._firewall, None
        for base in ([applied, None] if applied is not None else [None]):
            try:
                firewall.apply(self.namespace, firewall.commands(base, want))
                self._firewall = want
                return
            except Exception:
                if base is not None:
                    log.warning("incremental security-group change refused in %s: applying the whole ruleset",
                                self.namespace, exc_info=True)
                else:
                    log.exception("security groups not applied in %s: instance ports closed until they are",
                                  self.namespace)
        self.members.reset()
        self._fail_closed(desired, plugged)

    def _fail_closed(self, desired: state.Desired, plugged: dict[str, str]) -> None:
        """The ruleset did not apply: cut off every port with port security — the lockdown ruleset, or if
        even that fails, their links held down — and do not report them ACTIVE. The next pass (soon) retries."""
        ports = {**desired.ports, **desired.subports()}
        secured = {pid: tap for pid, tap in plugged.items() if pid in ports and ports[pid].security}
        try:
            firewall.apply(self.namespace, firewall.lockdown(plugged, desired))
        except Exception:
            log.exception("lockdown ruleset not applied in %s: taking the instance ports down", self.namespace)
            with plumbing.netlink(self.namespace) as ip:
                existing = plumbing.links(ip)
                for tap in secured.values():
                    if tap in existing:
                        ip.link("set", index=existing[tap]["index"], state="down")
                    self._sealed.add(tap)
                    self._applied.pop(tap, None)
        for pid in secured:
            del plugged[pid]
        self.pending = True

    def _unseal(self, desired: state.Desired, plugged: dict[str, str]) -> None:
        """A ruleset is in place again: bring back up the links ``_fail_closed`` held down."""
        ports = {**desired.ports, **desired.subports()}
        wanted_up = {link for pid, link in plugged.items() if pid in ports and ports[pid].admin_up}
        with plumbing.netlink(self.namespace) as ip:
            existing = plumbing.links(ip)
            for tap in self._sealed & wanted_up:
                if tap in existing:
                    ip.link("set", index=existing[tap]["index"], state="up")
                self._applied.pop(tap, None)
        self._sealed = set()

    def _converge_dhcp(self, ip, existing, desired: state.Desired, bridges: dict[str, int]) -> None:
        serving = {n.id: n for n in desired.networks.values() if n.dhcp_port and n.dhcp_port["ips"]}
        for network_id in dhcp.served(self.dhcp_root):
            if network_id not in serving:
                dhcp.stop(self.dhcp_root, network_id)
        wanted_ns = {names.dhcp_namespace(self.namespace, nid) for nid in serving}
        for ns in plumbing.namespaces(self.namespace + "-d"):
            if ns not in wanted_ns:
                plumbing.remove_namespace(ns)
                ip.forget()  # its veth's host end went with it
        for net in serving.values():
            ns = names.dhcp_namespace(self.namespace, net.id)
            try:
                link = names.dhcp_link(net.id)
                if plumbing.ensure_namespace(ns):
                    self._applied.pop(link, None)
                config = (ns, net.dhcp_port["mac"], net.mtu, tuple(net.dhcp_port["ips"]))
                plumbing.plug(ip, existing, host_name=link, temp_name=names.temp(net.dhcp_port["id"]),
                              bridge_index=bridges[net.id], target=ns, ifname=names.DHCP_IFNAME,
                              mac=net.dhcp_port["mac"], mtu=net.mtu, addresses=net.dhcp_port["ips"],
                              verified=self._applied.get(link) == config)
                self._applied[link] = config
                dhcp.ensure(self.dhcp_root, ns, net)
                self._dhcp_up.add(net.id)
            except Exception:
                log.exception("could not serve DHCP on network %s", net.id)

    def _converge_tunnels(self, ip, existing, desired: state.Desired, bridges: dict[str, int]) -> None:
        vxlan.register(self.root, self.host, self.tunnel_ip)
        addresses = vxlan.peers(self.root.parent)
        for net in desired.networks.values():
            if net.vni:
                try:
                    vxlan.ensure(ip, existing, net, bridges[net.id], self.tunnel_ip)
                    vxlan.sync_fdb(self.namespace, net, addresses, self.host)
                except Exception:
                    log.exception("could not set up VXLAN for network %s", net.id)

    def _converge_routers(self, ip, desired: state.Desired, bridges: dict[str, int], plugged: dict[str, str]) -> None:
        wanted = {l3.namespace(self.namespace, rid) for rid in desired.routers}
        dhcp.stop_all(self.ra_root, keep=set(desired.routers))
        for ns in plumbing.namespaces(self.namespace + "-r"):
            if ns not in wanted:
                plumbing.remove_namespace(ns)
                ip.forget()  # its veths' host ends went with it
        existing = plumbing.links(ip)
        mtus = tuple(sorted((nid, net.mtu) for nid, net in desired.networks.items()))
        for router in desired.routers.values():
            key, config = f"router:{router.id}", (repr(router), mtus, tuple(sorted(bridges.items())))
            try:
                for port_id in l3.converge(ip, existing, self.namespace, router, bridges, self.ra_root,
                                           verified=self._applied.get(key) == config):
                    plugged[port_id] = port_id
                self._applied[key] = config
            except Exception:
                self._applied.pop(key, None)
                log.exception("could not set up router %s", router.id)

    def _record(self, statuses: dict[str, str], current: dict[str, str]) -> None:
        changed = {pid: status for pid, status in statuses.items() if current.get(pid) != status}
        if not changed:
            return
        groups: dict[tuple[str, str | None], list[str]] = {}
        for pid, status in changed.items():
            groups.setdefault((status, current.get(pid)), []).append(pid)
        with self.db.session() as db:
            for (status, was), ids in groups.items():
                # Core UPDATE, not the ORM: a status change must not wake the agent again; only rows still as
                # this pass read them (a change made meanwhile is newer than the pass)
                db.execute(sa.update(Port).where(Port.id.in_(ids), Port.status == was).values(status=status))

    # -- removal ----------------------------------------------------------------------------

    def teardown(self) -> None:
        """Remove everything this host's agent made: dnsmasq, DHCP namespaces, the host namespace."""
        self._dhcp_up, self._applied, self._firewall = set(), {}, None
        self.steering.forget()
        for network_id in dhcp.served(self.dhcp_root):
            dhcp.stop(self.dhcp_root, network_id)
        dhcp.stop_all(self.ra_root)
        for ns in plumbing.namespaces(self.namespace + "-"):  # DHCP and router namespaces
            plumbing.remove_namespace(ns)
        self.trunks.teardown()  # nested containers, the bpffs
        plumbing.remove_namespace(self.namespace)  # its bridges, veths (and their instance ends), nft tables
        shutil.rmtree(self.root, ignore_errors=True)
        try:
            self.root.parent.rmdir()  # the last host of this data dir
        except OSError:
            pass


def _read_steering(db):
    try:
        return sfc.read(db)
    except Exception:  # steering must not stop the rest of the data plane
        log.exception("could not read the service function chains")
        return None


def cleanup(data_dir: Path) -> None:
    """Remove what every agent of this data dir made (``kumo reset``), whatever the host id."""
    data_dir = Path(data_dir).resolve()
    root = names.run_dir(data_dir)
    if root.is_dir():
        for host_dir in root.iterdir():
            for network_id in dhcp.served(host_dir / "dhcp"):
                dhcp.stop(host_dir / "dhcp", network_id)
            dhcp.stop_all(host_dir / "ra")
    trunks.cleanup(data_dir)
    for ns in plumbing.namespaces(names.data_prefix(data_dir)):
        plumbing.remove_namespace(ns)
    shutil.rmtree(root, ignore_errors=True)
