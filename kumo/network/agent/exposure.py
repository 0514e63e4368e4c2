"""Opt-in (``expose_public_network``): the external networks reachable from the host itself.

Floating IPs otherwise live only inside the data plane's namespaces. When exposed, each external
network that a router here has its gateway on gets a veth from the host's root namespace (``kx<hash>``,
holding the external subnet's gateway address, as "the outside world" would) to its bridge in the host
namespace (``kx<network>``): the host then reaches floating IPs directly (Tempest's validation SSHes
into servers this way), and routers' outbound traffic ends at the host (which forwards it only if the
host has IPv4 forwarding on). Refused, with a warning, when the root namespace already has an address
in that subnet on another link (another cloud on this host exposing the same range: give each its own
``public_cidr``). The host's end holds the routers' gateway addresses and floating IPs as permanent
neighbour entries (``neighbours``). A veth pair lives and dies as one, so removing the host namespace
(teardown, ``kumo reset``) removes both ends; links no longer wanted are removed at the next pass.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging

from pyroute2 import IPRoute

from kumo.network.agent import names, plumbing
from kumo.network.agent.state import Desired

PREFIX = "kx"
PERMANENT = 128  # NUD_PERMANENT
log = logging.getLogger("kumo.network.agent")
_warned: set[str] = set()


def root_link(host_ns: str, network_id: str) -> str:
    """The end in the root namespace: unique per host namespace and network (15 characters at most)."""
    return PREFIX + hashlib.sha1(f"{host_ns}/{network_id}".encode()).hexdigest()[:11]


def inner_link(network_id: str) -> str:
    return PREFIX + network_id.replace("-", "")[:11]


def wanted(desired: Desired, bridges: dict[str, int]) -> dict[str, tuple[str, int]]:
    """network id → (gateway address, prefix length) of each external network to expose."""
    found = {}
    for router in desired.routers.values():
        nid = router.gateway.network_id if router.gateway else None
        if nid is None or nid not in bridges or nid not in desired.networks:
            continue
        for subnet in desired.networks[nid].subnets:
            if subnet.ip_version == 4 and subnet.gateway_ip:
                found[nid] = (subnet.gateway_ip, ipaddress.ip_network(subnet.cidr).prefixlen)
                break
    return found


def neighbours(desired: Desired, network_id: str) -> dict[str, str]:
    """address → MAC of every router gateway address and floating IP on the network. The host's end holds
    them as permanent neighbour entries: floating IPs move between routers (and are reused) faster than
    a stale ARP entry would expire, and no router here sends gratuitous ARP."""
    found = {}
    for router in desired.routers.values():
        if router.gateway is None or router.gateway.network_id != network_id:
            continue
        for address, _ in router.gateway.addresses:
            found[address] = router.gateway.mac.lower()
        for _, floating, _ in router.floating:
            found[floating] = router.gateway.mac.lower()
    return found


def converge(ip, host_ns: str, desired: Desired, bridges: dict[str, int]) -> None:
    """Make the exposing veths exactly those ``wanted``; ``ip`` is the host namespace's netlink socket."""
    want = wanted(desired, bridges)
    existing = plumbing.links(ip)
    keep = {inner_link(nid) for nid in want}
    for name, link in existing.items():
        if name.startswith(PREFIX) and name not in keep:
            plumbing.delete_link(ip, link["index"])
    if not want:
        return
    with IPRoute() as root:
        for nid, (address, prefixlen) in sorted(want.items()):
            index = _expose(ip, root, existing, host_ns, nid, address, prefixlen, bridges[nid])
            if index is not None:
                _sync_neighbours(root, index, neighbours(desired, nid))


def _expose(ip, root, existing: dict, host_ns: str, nid: str, address: str, prefixlen: int,
            bridge: int) -> int | None:
    """Make (or check) the veth pair and the address; the root end's index (None: refused)."""
    outer, inner = root_link(host_ns, nid), inner_link(nid)
    found = root.link_lookup(ifname=outer)
    if inner not in existing or not found:
        subnet = ipaddress.ip_network(f"{address}/{prefixlen}", strict=False)
        taken = [a.get_attr("IFA_LABEL") for a in root.get_addr(family=2)
                 if ipaddress.ip_address(a.get_attr("IFA_ADDRESS")) in subnet]
        if taken and not found:
            if nid not in _warned:
                _warned.add(nid)
                log.warning("not exposing external network %s: %s is already on %s in the host's namespace",
                            nid, subnet, ", ".join(sorted(set(taken))))
            return None
        for index in found:
            plumbing.delete_link(root, index)
        if inner in existing:
            plumbing.delete_link(ip, existing[inner]["index"])
        root.link("add", ifname=outer, kind="veth", peer={"ifname": inner})
        root.link("set", index=root.link_lookup(ifname=inner)[0], net_ns_fd=f"/run/netns/{host_ns}")
        found = root.link_lookup(ifname=outer)
        if isinstance(ip, plumbing.Netlink):
            ip.forget()  # a link arrived through another socket
        existing = plumbing.links(ip)
    mtu = existing.get(names.bridge(nid), {}).get("mtu") or 1500
    link = existing[inner]
    if link["master"] != bridge or link["mtu"] != mtu or not link["up"]:
        ip.link("set", index=link["index"], master=bridge, mtu=mtu, state="up")
    index = found[0]
    mine = root.get_links(index)[0]
    if mine.get_attr("IFLA_MTU") != mtu or not mine["flags"] & 1:
        root.link("set", index=index, mtu=mtu, state="up")
    have = {(a.get_attr("IFA_ADDRESS"), a["prefixlen"]) for a in root.get_addr(index=index, family=2)}
    if (address, prefixlen) not in have:
        root.addr("add", index=index, address=address, prefixlen=prefixlen, flags=plumbing.IFA_F_NODAD)
    return index


def _sync_neighbours(root, index: int, want: dict[str, str]) -> None:
    have = {}
    for entry in root.get_neighbours(ifindex=index, family=2):
        have[entry.get_attr("NDA_DST")] = ((entry.get_attr("NDA_LLADDR") or "").lower(), entry["state"])
    for dst, (mac, nud) in have.items():
        if dst not in want and nud == PERMANENT:
            root.neigh("del", dst=dst, ifindex=index)
    for dst, mac in want.items():
        if have.get(dst) != (mac, PERMANENT):
            root.neigh("replace", dst=dst, lladdr=mac, ifindex=index, state=PERMANENT)
