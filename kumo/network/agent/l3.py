"""Routers: a namespace per router, as Neutron's L3 agent lays them out.

Each interface is a veth from the router namespace (``qr-<port>``, with the port's MAC and the
subnet's gateway address) to its network's bridge; the external gateway likewise (``qg-<port>``),
carrying the floating IPs as /32 addresses and the default route via the external subnet's gateway.
IPv4 and IPv6 forwarding are on inside. Interfaces on IPv6 subnets with an ``ipv6_ra_mode`` send
router advertisements (``dhcp.advertise``), so instances take SLAAC addresses and their default
route from the router, as from Neutron's radvd. Extra routes carry their own routing protocol id, so
those the API no longer has are found and removed. NAT is an ``ip kumo`` nftables table in the router
namespace, rebuilt in one transaction: floating IPs are DNAT in prerouting and SNAT to themselves in
postrouting, then everything else leaving through the gateway is SNAT to the gateway address (when
SNAT is on).
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from pathlib import Path

from kumo.network.agent import dhcp, firewall, names, plumbing
from kumo.network.agent.state import RouterWant


def namespace(host_ns: str, router_id: str) -> str:
    return f"{host_ns}-r{router_id.replace('-', '')[:16]}"


def host_link(kind: str, port_id: str) -> str:
    return kind + port_id.replace("-", "")[:11]  # qr… / qg… in the host namespace


def inner_link(kind: str, port_id: str) -> str:
    return f"{kind}-{port_id.replace('-', '')[:11]}"


def _nat(router: RouterWant) -> list[dict]:
    table = {"family": "ip", "name": names.TABLE}
    cmds = [{"add": {"table": table}}, {"delete": {"table": table}}, {"add": {"table": table}},
            {"add": {"chain": {"family": "ip", "table": names.TABLE, "name": "prerouting", "type": "nat",
                               "hook": "prerouting", "prio": -100, "policy": "accept"}}},
            {"add": {"chain": {"family": "ip", "table": names.TABLE, "name": "postrouting", "type": "nat",
                               "hook": "postrouting", "prio": 100, "policy": "accept"}}}]
    if router.gateway is None:
        return cmds
    out = firewall.match(firewall.meta("oifname"), inner_link("qg", router.gateway.port_id))

    def rule(chain: str, expr: list) -> dict:
        return {"add": {"rule": {"family": "ip", "table": names.TABLE, "chain": chain, "expr": expr}}}

    for _, floating, fixed in router.floating:
        cmds.append(rule("prerouting", [firewall.match(firewall.payload("ip", "daddr"), floating),
                                        {"dnat": {"addr": fixed}}]))
        cmds.append(rule("postrouting", [out, firewall.match(firewall.payload("ip", "saddr"), fixed),
                                         {"snat": {"addr": floating}}]))
    if router.snat and router.gateway.addresses:
        cmds.append(rule("postrouting", [out, {"snat": {"addr": router.gateway.addresses[0][0]}}]))
    return cmds


SYSCTLS = {"ipv4/ip_forward": 1, "ipv6/conf/all/forwarding": 1,  # route both families
           "ipv6/conf/default/accept_dad": 0}  # link-local addresses usable at once: RAs go out from the start


def converge(ip, existing: dict, host_ns: str, router: RouterWant, bridges: dict[str, int],
             ra_root: Path | None = None, verified: bool = False) -> set[str]:
    """Plug and configure one router; returns the ids of the ports plugged. With ``ra_root`` (where the
    router's advertisement daemon keeps its files), IPv6 subnets with an ``ipv6_ra_mode`` get RAs.
    ``verified``: the caller applied exactly this router before; then, while its namespace and host links
    stay, the inside of its links, its extra routes and its NAT table are not looked at again."""
    ns = namespace(host_ns, router.id)
    if plumbing.ensure_namespace(ns):
        verified = False
        script = "; ".join(f"echo {v} > /proc/sys/net/{k}" for k, v in SYSCTLS.items())
        subprocess.run(["ip", "netns", "exec", ns, "sh", "-c", script], capture_output=True, timeout=10, check=False)
    plugged, advertised = set(), []
    links = [("qr", link) for link in router.interfaces]
    if router.gateway is not None:
        links.append(("qg", router.gateway))
    for kind, link in links:
        if link.network_id not in bridges or not link.addresses:
            continue
        addresses = list(link.addresses)
        gateways = {}
        if kind == "qg":
            addresses += [(floating, 32) for _, floating, _ in router.floating]
            if router.gateway_ip:
                gateways = {4: router.gateway_ip}
        mtu = plumbing.links(ip)[names.bridge(link.network_id)]["mtu"]
        plumbing.plug(ip, existing, host_name=host_link(kind, link.port_id), temp_name=names.temp(link.port_id),
                      bridge_index=bridges[link.network_id], target=ns, ifname=inner_link(kind, link.port_id),
                      mac=link.mac, mtu=mtu, addresses=addresses, gateways=gateways, verified=verified)
        plugged.add(link.port_id)
        if kind == "qr" and link.advertise:
            advertised.append((inner_link(kind, link.port_id), mtu, link.advertise))
    if ra_root is not None:
        dhcp.advertise(ra_root / router.id, ns, advertised)
    if not verified:
        _routes(ns, router)
        firewall.apply(ns, _nat(router))
    return plugged


EXTRA_ROUTES = "77"  # the routing protocol id the router's extra routes carry, so stale ones can be found


def _routes(ns: str, router: RouterWant) -> None:
    """Make the router's extra routes exactly ``router.routes``: add or replace the wanted ones, delete
    those (of either family) no longer in the API."""
    def ip(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", ns, "ip", *argv], capture_output=True, text=True, timeout=10,
                              check=False)

    wanted = {(str(ipaddress.ip_network(r["destination"], strict=False)), str(ipaddress.ip_address(r["nexthop"])))
              for r in router.routes}
    for family in ("-4", "-6"):
        for entry in json.loads(ip(family, "-j", "route", "show", "proto", EXTRA_ROUTES).stdout or "[]"):
            dst = {"default": "0.0.0.0/0" if family == "-4" else "::/0"}.get(entry["dst"], entry["dst"])
            dst = dst if "/" in dst else f"{dst}/{32 if family == '-4' else 128}"
            if (dst, entry.get("gateway")) not in wanted:
                ip(family, "route", "del", entry["dst"], "via", entry.get("gateway", ""), "proto", EXTRA_ROUTES)
    for destination, nexthop in sorted(wanted):
        ip("route", "replace", destination, "via", nexthop, "proto", EXTRA_ROUTES)


def wanted_links(routers: dict[str, RouterWant]) -> set[str]:
    found = set()
    for router in routers.values():
        found |= {host_link("qr", link.port_id) for link in router.interfaces}
        if router.gateway is not None:
            found.add(host_link("qg", router.gateway.port_id))
    return found
