"""The desired state of one host's data plane, read from the database in one pass."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.db import utcnow
from kumo.network import security_groups
from kumo.network.agent import names
from kumo.network.agent.members import GroupMembers, Members
from kumo.network.models import FloatingIP, IPAllocation, Network, Port, Router, Subnet
from kumo.network.trunk_models import SubPort, Trunk

COMPUTE_OWNER = "compute:nova"
DHCP_OWNER = "network:dhcp"
ROUTER_INTERFACE = "network:router_interface"
ROUTER_GATEWAY = "network:router_gateway"
SLAAC, STATEFUL, STATELESS = "slaac", "dhcpv6-stateful", "dhcpv6-stateless"
WAIT_FOR_INSTANCE = 120  # seconds a new port's instance may take to appear before only the slow tick looks


@dataclass
class SubnetWant:
    id: str
    cidr: str
    ip_version: int
    gateway_ip: str | None
    enable_dhcp: bool
    dns_nameservers: list
    host_routes: list
    ra_mode: str | None = None  # IPv6: who advertises (a router of ours sends RAs when set)
    address_mode: str | None = None  # IPv6: slaac, dhcpv6-stateful, dhcpv6-stateless

    @property
    def dhcpv6(self) -> bool:
        """DHCPv6 from the network's dnsmasq, as Neutron's DHCP agent decides (stateful, stateless, or no
        modes at all; never for SLAAC; only for prefixes of /64 or longer)."""
        return self.ip_version == 6 and (self.address_mode in (STATEFUL, STATELESS) or not (
            self.address_mode or self.ra_mode)) and ipaddress.ip_network(self.cidr).prefixlen >= 64


@dataclass(frozen=True)
class Rule:
    direction: str
    ethertype: str
    protocol: str | None
    port_range_min: int | None
    port_range_max: int | None
    remote_ip_prefix: str | None
    remote_group_id: str | None


@dataclass
class PortWant:
    id: str
    network_id: str
    mac: str
    mtu: int
    netns: Path
    ifname: str  # eth0, eth1… inside the instance: creation order here; the agent's ``ifnames`` keeps them stable
    addresses: list[tuple[str, int]]  # (address, prefix length)
    gateways: dict[int, str]  # ip version → gateway (default route), only on one port of the instance per family
    admin_up: bool
    security: bool
    group_ids: list[str]
    pairs: list[dict]
    by_ra: list[str] = field(default_factory=list)  # addresses the instance takes itself by SLAAC, not set for it
    device_id: str = ""  # the instance
    offers: dict[int, str] = field(default_factory=dict)  # every gateway its subnets give (``gateways``: those it holds)


@dataclass
class NetworkWant:
    id: str
    mtu: int
    subnets: list[SubnetWant]
    dhcp_port: dict | None = None  # {"id", "mac", "ips": [(address, prefixlen)]} once it exists
    hosts: list[tuple[str, str]] = field(default_factory=list)  # (mac, address) of every port, for DHCP(v6)
    vni: int | None = None  # VXLAN segmentation id
    remote: list[tuple[str, str]] = field(default_factory=list)  # (mac, host) of ports bound to other hosts

    @property
    def dhcp_subnets(self) -> list[SubnetWant]:
        return [s for s in self.subnets if s.enable_dhcp and (s.ip_version == 4 or s.dhcpv6)]


@dataclass
class LinkWant:
    """A router's port: its MAC and addresses on one network."""
    port_id: str
    network_id: str
    mac: str
    addresses: list[tuple[str, int]]
    advertise: list[tuple[str, str]] = field(default_factory=list)  # IPv6 (cidr, ipv6_ra_mode) to send RAs for


@dataclass
class RouterWant:
    id: str
    interfaces: list[LinkWant]
    gateway: LinkWant | None
    gateway_ip: str | None  # the external subnet's gateway: the router's default route
    snat: bool
    floating: list[tuple[str, str, str]]  # (floating ip id, floating address, fixed address)
    routes: list[dict]  # extra routes: {"destination", "nexthop"}


@dataclass
class SubportWant:
    """A trunk subport: its port (``netns`` is the nested container's handle) and its VLAN id."""
    port: PortWant
    vid: int
    status: str  # recorded now
    host: str  # binding:host_id recorded now


@dataclass
class TrunkWant:
    id: str
    parent: PortWant | None  # None: the parent port's instance is not (yet) on this host
    device_id: str  # the parent's instance
    status: str
    subports: list[SubportWant]


@dataclass
class Desired:
    networks: dict[str, NetworkWant]
    ports: dict[str, PortWant]
    rules: dict[str, list[Rule]]  # group id → its rules
    members: dict[str, GroupMembers]  # remote group id → the addresses of every port in it, on any host
    bound_ids: list[str]  # every compute port bound to this host, plugged or not (for status)
    statuses: dict[str, str]  # port id → status now recorded, for bound and DHCP ports
    stale_dhcp: list[str]  # this host's DHCP ports on networks it no longer serves
    routers: dict[str, RouterWant] = field(default_factory=dict)
    waiting: bool = False  # a new port's instance has not published its namespace yet
    trunks: dict[str, TrunkWant] = field(default_factory=dict)  # trunks whose parent port is bound here
    steering: tuple | None = None  # service function chains and their ports (``sfc.read``), same transaction

    def subports(self) -> dict[str, PortWant]:
        return {s.port.id: s.port for t in self.trunks.values() if t.parent for s in t.subports}


def _mounted(path: Path | None) -> bool:
    try:
        return path is not None and os.path.ismount(path)
    except OSError:
        return False


def read(db: Session, data_dir: Path, host: str, members: Members | None = None,
         hints: tuple[set[str], bool] | None = None) -> Desired:
    """This host's desired state; remote-group members from ``members`` (kept between passes by the agent,
    ``hints`` what its ``take`` gave before this transaction began; without them, read whole)."""
    bound = list(db.scalars(sa.select(Port).where(Port.binding_host_id == host, Port.device_owner == COMPUTE_OWNER)
                            .order_by(Port.device_id, Port.created_at, Port.id)))
    present = [p for p in bound if _mounted(names.instance_netns(data_dir, p.device_id))]
    recent = utcnow() - timedelta(seconds=WAIT_FOR_INSTANCE)
    waiting = any(p.created_at and p.created_at > recent for p in bound if p not in present)
    local_nets = {p.network_id for p in present}
    trunk_rows, sub_rows, sub_ports = _trunk_rows(db, bound, present)
    local_nets |= {p.network_id for p in sub_ports.values()}
    # routers with an interface on a network hosted here, and the networks of all their ports
    router_ids = set(db.scalars(sa.select(Port.device_id).where(
        Port.device_owner == ROUTER_INTERFACE, Port.network_id.in_(local_nets)))) if local_nets else set()
    router_rows = list(db.scalars(sa.select(Router).where(Router.id.in_(router_ids)))) if router_ids else []
    router_ports = list(db.scalars(sa.select(Port).where(
        Port.device_id.in_(router_ids), Port.device_owner.in_([ROUTER_INTERFACE, ROUTER_GATEWAY])))) \
        if router_ids else []
    net_ids = sorted(local_nets | {p.network_id for p in router_ports})
    networks = {n.id: n for n in db.scalars(sa.select(Network).where(Network.id.in_(net_ids)))} if net_ids else {}
    subnets: dict[str, dict[str, Subnet]] = {nid: {} for nid in net_ids}
    for s in db.scalars(sa.select(Subnet).where(Subnet.network_id.in_(net_ids)).order_by(Subnet.created_at, Subnet.id)):
        subnets[s.network_id][s.id] = s
    # every port of those networks (DHCP hosts, remote ends): plain rows, the columns read here; their addresses by
    # network (no IN of every port id)
    all_ports = db.execute(sa.select(Port.id, Port.network_id, Port.mac_address, Port.device_owner, Port.device_id,
                                     Port.binding_host_id, Port.status)
                           .where(Port.network_id.in_(net_ids)).order_by(Port.id)).all() if net_ids else []
    ips: dict[str, list[dict]] = {p.id: [] for p in all_ports}
    on_net: dict[str, list] = {nid: [] for nid in net_ids}
    for p in all_ports:
        on_net[p.network_id].append(p)
    if net_ids:
        for port_id, subnet_id, address in db.execute(sa.select(IPAllocation.port_id, IPAllocation.subnet_id,
                                                                IPAllocation.ip_address)
                                                      .where(IPAllocation.network_id.in_(net_ids))):
            if port_id in ips:
                ips[port_id].append({"subnet_id": subnet_id, "ip_address": address})

    wanted_nets = {}
    for nid in net_ids:
        if nid not in networks:
            continue
        net = NetworkWant(nid, networks[nid].mtu, [SubnetWant(s.id, s.cidr, s.ip_version, s.gateway_ip, s.enable_dhcp,
                                                             list(s.dns_nameservers or []), list(s.host_routes or []),
                                                             s.ipv6_ra_mode, s.ipv6_address_mode)
                                                   for s in subnets[nid].values()])
        if networks[nid].network_type == "vxlan":
            net.vni = networks[nid].segmentation_id
        dhcp_ids = {s.id for s in net.dhcp_subnets}
        for p in on_net[nid]:
            served = [a["ip_address"] for a in ips[p.id] if a["subnet_id"] in dhcp_ids]
            v4 = [a for a in served if ":" not in a]
            stateful = [a["ip_address"] for a in ips[p.id] if a["subnet_id"] in dhcp_ids and
                        subnets[nid][a["subnet_id"]].ipv6_address_mode != STATELESS and ":" in a["ip_address"]]
            if p.device_owner == DHCP_OWNER and p.device_id == dhcp_device_id(host, nid):
                net.dhcp_port = {"id": p.id, "mac": p.mac_address, "ips": [
                    (a["ip_address"], ipaddress.ip_network(subnets[nid][a["subnet_id"]].cidr).prefixlen)
                    for a in ips[p.id] if a["subnet_id"] in dhcp_ids],
                    "subnet_ids": {a["subnet_id"] for a in ips[p.id]}}
            else:
                net.hosts += [(p.mac_address, a) for a in v4[:1] + stateful]
            if p.binding_host_id and p.binding_host_id != host:
                net.remote.append((p.mac_address, p.binding_host_id))
        wanted_nets[nid] = net

    wanted_ports, per_device = {}, {}
    for p in present:
        net = wanted_nets.get(p.network_id)
        if net is None:
            continue
        index = per_device.setdefault(p.device_id, [])
        addrs, gateways, by_ra = [], {}, []
        for a in ips[p.id]:
            s = subnets[p.network_id].get(a["subnet_id"])
            if s is None:
                continue
            addrs.append((a["ip_address"], ipaddress.ip_network(s.cidr).prefixlen))
            if s.ip_version == 6 and s.ipv6_ra_mode:  # a router of ours advertises: the default route by RA
                if s.ipv6_address_mode in (SLAAC, STATELESS):
                    by_ra.append(a["ip_address"])
                continue
            if s.gateway_ip and s.ip_version not in gateways:
                gateways[s.ip_version] = s.gateway_ip
        # one default route per family in an instance: the first port that has a gateway for it (the agent's
        # ``ifnames`` then keeps it where it is across attaches and detaches)
        taken = {v for other in index for v in wanted_ports[other].gateways}
        wanted_ports[p.id] = PortWant(p.id, p.network_id, p.mac_address, net.mtu,
                                      names.instance_netns(data_dir, p.device_id), f"eth{len(index)}", addrs,
                                      {v: gw for v, gw in gateways.items() if v not in taken},
                                      bool(p.admin_state_up), bool(p.port_security_enabled),
                                      list(p.security_group_ids or []), list(p.allowed_address_pairs or []), by_ra,
                                      p.device_id, gateways)
        index.append(p.id)

    trunks = _trunks(data_dir, trunk_rows, sub_rows, sub_ports, wanted_ports, bound, wanted_nets, subnets, ips)
    group_ids = sorted({g for p in [*wanted_ports.values(), *(s.port for t in trunks.values() for s in t.subports)]
                        if p.security for g in p.group_ids})
    rules = {gid: [Rule(r.direction, r.ethertype, r.protocol, r.port_range_min, r.port_range_max,
                        r.remote_ip_prefix, r.remote_group_id) for r in rs]
             for gid, rs in security_groups.rules_of(db, group_ids).items()}
    remote_ids = sorted({r.remote_group_id for rs in rules.values() for r in rs if r.remote_group_id})
    routers = _routers(db, router_rows, router_ports, ips, subnets)
    statuses = {p.id: p.status for p in bound}
    statuses.update({p.id: p.status for p in router_ports})
    statuses.update({p.id: p.status for p in all_ports if p.device_owner == DHCP_OWNER})
    stale = [pid for pid, nid in db.execute(sa.select(Port.id, Port.network_id).where(
        Port.device_owner == DHCP_OWNER, Port.device_id.startswith(dhcp_device_id(host, ""))))
        if nid not in wanted_nets or not wanted_nets[nid].dhcp_subnets]
    group_members = (members if members is not None else Members()).read(db, remote_ids, hints)
    return Desired(wanted_nets, wanted_ports, rules, group_members, [p.id for p in bound], statuses,
                   stale, routers, waiting, trunks)


def _trunk_rows(db: Session, bound, present):
    """Trunks whose parent port is bound to this host, their subports, and the subports' ports (for those
    whose instance is here)."""
    trunk_rows = list(db.scalars(sa.select(Trunk).where(Trunk.port_id.in_([p.id for p in bound])))) if bound else []
    sub_rows = list(db.scalars(sa.select(SubPort).where(SubPort.trunk_id.in_([t.id for t in trunk_rows]))
                               .order_by(SubPort.segmentation_id))) if trunk_rows else []
    live = {p.id for p in present}
    live_trunks = {t.id for t in trunk_rows if t.port_id in live}
    wanted = [s.port_id for s in sub_rows if s.trunk_id in live_trunks]
    sub_ports = {p.id: p for p in db.scalars(sa.select(Port).where(Port.id.in_(wanted)))} if wanted else {}
    return trunk_rows, sub_rows, sub_ports


def _trunks(data_dir: Path, trunk_rows, sub_rows, sub_ports, wanted_ports, bound, networks, subnets, ips):
    devices = {p.id: p.device_id for p in bound}
    result = {}
    for t in trunk_rows:
        parent = wanted_ports.get(t.port_id)
        subs = []
        for s in sub_rows:
            p = sub_ports.get(s.port_id)
            if s.trunk_id != t.id or p is None or p.network_id not in networks or parent is None:
                continue
            addrs, gateways = [], {}
            for a in ips.get(p.id, []):
                sn = subnets[p.network_id].get(a["subnet_id"])
                if sn is not None:
                    addrs.append((a["ip_address"], ipaddress.ip_network(sn.cidr).prefixlen))
                    if sn.gateway_ip and sn.ip_version not in gateways:
                        gateways[sn.ip_version] = sn.gateway_ip
            port = PortWant(p.id, p.network_id, p.mac_address, networks[p.network_id].mtu,
                            names.container_netns(data_dir, devices[t.port_id], p.id), "eth0", addrs, gateways,
                            bool(p.admin_state_up), bool(p.port_security_enabled), list(p.security_group_ids or []),
                            list(p.allowed_address_pairs or []))
            subs.append(SubportWant(port, s.segmentation_id, p.status, p.binding_host_id or ""))
        result[t.id] = TrunkWant(t.id, parent, devices[t.port_id], t.status, subs)
    return result


def _routers(db: Session, rows, router_ports, ips, subnets) -> dict[str, RouterWant]:
    result = {}
    floating_by_router: dict[str, list[tuple[str, str, str]]] = {}
    if rows:  # every router's floating IPs in one query
        for fid, router_id, address, fixed in db.execute(
                sa.select(FloatingIP.id, FloatingIP.router_id, FloatingIP.floating_ip_address,
                          FloatingIP.fixed_ip_address)
                .where(FloatingIP.router_id.in_([r.id for r in rows]), FloatingIP.port_id.is_not(None),
                       FloatingIP.fixed_ip_address.is_not(None)).order_by(FloatingIP.id)):
            floating_by_router.setdefault(router_id, []).append((fid, address, fixed))
    for router in rows:
        interfaces, gateway, gateway_ip = [], None, None
        for p in sorted(router_ports, key=lambda p: p.id):
            if p.device_id != router.id:
                continue
            addrs, advertise = [], []
            for a in ips.get(p.id, []):
                s = subnets.get(p.network_id, {}).get(a["subnet_id"])
                if s is not None and s.ip_version == 6 and p.device_owner == ROUTER_INTERFACE:
                    addrs.append((a["ip_address"], ipaddress.ip_network(s.cidr).prefixlen))
                    if s.ipv6_ra_mode:
                        advertise.append((s.cidr, s.ipv6_ra_mode))
                elif s is not None and s.ip_version == 4:
                    addrs.append((a["ip_address"], ipaddress.ip_network(s.cidr).prefixlen))
                    if p.device_owner == ROUTER_GATEWAY and gateway_ip is None:
                        gateway_ip = s.gateway_ip
            link = LinkWant(p.id, p.network_id, p.mac_address, addrs, advertise)
            if p.device_owner == ROUTER_GATEWAY:
                gateway = link if p.id == router.gateway_port_id else gateway
            else:
                interfaces.append(link)
        floating = floating_by_router.get(router.id, [])
        result[router.id] = RouterWant(router.id, interfaces, gateway, gateway_ip, bool(router.enable_snat),
                                       floating if gateway else [], list(router.routes or []))
    return result


def dhcp_device_id(host: str, network_id: str) -> str:
    """Neutron's ``device_id`` for a DHCP port: ``dhcp<host>-<network>``."""
    return f"dhcp{names._short(host, 8)}-{network_id}"

