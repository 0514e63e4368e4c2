"""Links through netlink (pyroute2): the host namespace, bridges, and veths into instances and DHCP namespaces."""

from __future__ import annotations

import ipaddress
import os
import subprocess

from pyroute2 import IPRoute, netns
from pyroute2.netlink.exceptions import NetlinkError

IFA_F_NODAD = 0x02


class PlumbingError(RuntimeError):
    pass


def namespaces(prefix: str) -> list[str]:
    return sorted(n for n in netns.listnetns() if n.startswith(prefix))


def ensure_namespace(name: str, bridge_netfilter: bool = False) -> bool:
    """Make the namespace if it is missing (loopback up; br_netfilter on for a host namespace). True if made."""
    if name in netns.listnetns():
        return False
    netns.create(name)
    with IPRoute(netns=name) as ip:
        lo = ip.link_lookup(ifname="lo")
        if lo:
            ip.link("set", index=lo[0], state="up")
    if bridge_netfilter:  # bridged IPv4/IPv6 through the inet hooks (per namespace)
        for key in ("bridge-nf-call-iptables", "bridge-nf-call-ip6tables"):
            subprocess.run(["ip", "netns", "exec", name, "sh", "-c", f"echo 1 > /proc/sys/net/bridge/{key}"],
                           capture_output=True, timeout=10, check=False)
    return True


def remove_namespace(name: str) -> None:
    """Delete its links first (a veth's other end, in an instance, goes at once rather than whenever the
    kernel gets round to dismantling the namespace), then the namespace."""
    if name not in netns.listnetns():
        return
    try:
        with IPRoute(netns=name) as ip:
            for link in ip.get_links():
                if link.get("IFLA_IFNAME") != "lo":
                    delete_link(ip, link["index"])
    except (OSError, NetlinkError):
        pass
    netns.remove(name)


def links(ip: IPRoute) -> dict[str, dict]:
    found = {}
    for link in ip.get_links():
        info = link.get("IFLA_LINKINFO")
        found[link.get("IFLA_IFNAME")] = {"index": link["index"], "kind": info.get("IFLA_INFO_KIND") if info else None,
                                          "mtu": link.get("IFLA_MTU"), "master": link.get("IFLA_MASTER"),
                                          "mac": link.get("IFLA_ADDRESS"), "up": bool(link["flags"] & 1)}
    return found


def ensure_bridge(ip: IPRoute, existing: dict, name: str, mtu: int) -> int:
    link = existing.get(name)
    if link is not None and link["kind"] != "bridge":
        ip.link("del", index=link["index"])
        link = None
    if link is None:
        ip.link("add", ifname=name, kind="bridge", br_stp_state=0, br_forward_delay=0)
        index = ip.link_lookup(ifname=name)[0]
    else:
        index = link["index"]
    if link is None or link["mtu"] != mtu or not link["up"]:
        ip.link("set", index=index, mtu=mtu, state="up")
    return index


def delete_link(ip: IPRoute, index: int) -> None:
    try:
        ip.link("del", index=index)
    except NetlinkError as exc:
        if exc.code != 19:  # ENODEV: gone already (a veth's peer went with its namespace)
            raise


def _find_by_mac(ip: IPRoute, mac: str) -> dict | None:
    for name, link in links(ip).items():
        if link["kind"] == "veth" and (link["mac"] or "").lower() == mac.lower():
            return {"name": name, **link}
    return None


def _configure_inside(ip: IPRoute, index: int, ifname: str, mac: str, mtu: int, addresses, gateways, up: bool) -> None:
    current = links(ip)
    me = next(n for n, l in current.items() if l["index"] == index)
    if me != ifname and ifname not in current:
        ip.link("set", index=index, state="down")
        ip.link("set", index=index, ifname=ifname)
    link = links(ip)
    this = next(l for l in link.values() if l["index"] == index)
    if (this["mac"] or "").lower() != mac.lower():
        ip.link("set", index=index, address=mac)
    if this["mtu"] != mtu:
        ip.link("set", index=index, mtu=mtu)
    if this["up"] != up:
        ip.link("set", index=index, state="up" if up else "down")
    have = {(a.get("IFA_ADDRESS"), a["prefixlen"]) for a in ip.get_addr(index=index) if a["scope"] == 0}
    want = {(str(ipaddress.ip_address(a)), n) for a, n in addresses}
    for address, prefixlen in have - want:
        ip.addr("del", index=index, address=address, prefixlen=prefixlen)
    for address, prefixlen in sorted(want - have):
        ip.addr("add", index=index, address=address, prefixlen=prefixlen, flags=IFA_F_NODAD)
    if not up:
        return
    for version, gateway in gateways.items():
        family = 10 if version == 6 else 2
        dst = "::/0" if version == 6 else "0.0.0.0/0"
        routes = [r for r in ip.get_routes(family=family, table=254) if r["dst_len"] == 0]
        if any(r.get("RTA_GATEWAY") == gateway and r.get("RTA_OIF") == index for r in routes):
            continue
        for r in routes:
            ip.route("del", dst=dst, gateway=r.get("RTA_GATEWAY"), oif=r.get("RTA_OIF"), family=family)
        try:
            ip.route("add", dst=dst, gateway=gateway, oif=index, family=family)
        except NetlinkError as exc:  # a gateway outside every subnet of the port: no default route
            if exc.code not in (101, 22):
                raise


def plug(ip: IPRoute, existing: dict, *, host_name: str, temp_name: str, bridge_index: int, target: str,
         ifname: str, mac: str, mtu: int, addresses, gateways=None, up: bool = True, verified: bool = False) -> None:
    """Make ``host_name`` (on the bridge) a veth whose peer is ``ifname`` in ``target`` (a namespace name or
    a netns handle path), with ``mac``, ``mtu``, ``addresses`` and default routes. Idempotent: what is
    right is left alone, what differs is fixed, and a veth whose other end is gone is made anew.
    ``verified``: the caller applied exactly this configuration before and the host end still exists
    (a veth pair lives and dies as one), so the inside need not be looked at again."""
    link = existing.get(host_name)
    if link is not None and link["kind"] != "veth":
        delete_link(ip, link["index"])
        link = None
    if link is not None and verified:
        if link["master"] != bridge_index or link["mtu"] != mtu or link["up"] != up:
            ip.link("set", index=link["index"], master=bridge_index, mtu=mtu, state="up" if up else "down")
        return
    with IPRoute(netns=target) as inner:
        peer = _find_by_mac(inner, mac) if link is not None else None
        if link is not None and peer is None:
            delete_link(ip, link["index"])
            link = None
        if link is None:
            stale = ip.link_lookup(ifname=temp_name)
            if stale:
                delete_link(ip, stale[0])
            ip.link("add", ifname=host_name, kind="veth", peer={"ifname": temp_name, "address": mac, "mtu": mtu})
            temp = ip.link_lookup(ifname=temp_name)[0]
            ip.link("set", index=temp, net_ns_fd=target if target.startswith("/") else f"/run/netns/{target}")
            peer = _find_by_mac(inner, mac)
            if peer is None:
                raise PlumbingError(f"the veth end for {mac} did not arrive in {target}")
            index = ip.link_lookup(ifname=host_name)[0]
            link = {"index": index, "mtu": None, "master": None, "up": False}
        if link["master"] != bridge_index or link["mtu"] != mtu or link["up"] != up:
            ip.link("set", index=link["index"], master=bridge_index, mtu=mtu, state="up" if up else "down")
        _configure_inside(inner, peer["index"], ifname, mac, mtu, addresses, gateways or {}, up)


def netns_alive(path) -> bool:
    try:
        return os.path.ismount(path)
    except OSError:
        return False


def by_prefix(existing: dict, prefix: str) -> dict[str, dict]:
    return {n: l for n, l in existing.items() if n.startswith(prefix)}
