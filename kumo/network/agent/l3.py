"""Routers: a namespace per router, as Neutron's L3 agent lays them out.

Each interface is a veth from the router namespace (``qr-<port>``, with the port's MAC and the
subnet's gateway address) to its network's bridge; the external gateway likewise (``qg-<port>``),
carrying the floating IPs as /32 addresses and the default route via the external subnet's gateway.
IPv4 forwarding is on inside. NAT is an ``ip kumo`` nftables table in the router namespace, rebuilt
in one transaction: floating IPs are DNAT in prerouting and SNAT to themselves in postrouting,
then everything else leaving through the gateway is SNAT to the gateway address (when SNAT is on).
"""

from __future__ import annotations

import subprocess

from kumo.network.agent import firewall, names, plumbing
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


def converge(ip, existing: dict, host_ns: str, router: RouterWant, bridges: dict[str, int]) -> set[str]:
    """Plug and configure one router; returns the ids of the ports plugged."""
    ns = namespace(host_ns, router.id)
    if plumbing.ensure_namespace(ns):
        subprocess.run(["ip", "netns", "exec", ns, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"],
                       capture_output=True, timeout=10, check=False)
    plugged = set()
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
        plumbing.plug(ip, existing, host_name=host_link(kind, link.port_id), temp_name=names.temp(link.port_id),
                      bridge_index=bridges[link.network_id], target=ns, ifname=inner_link(kind, link.port_id),
                      mac=link.mac, mtu=plumbing.links(ip)[names.bridge(link.network_id)]["mtu"],
                      addresses=addresses, gateways=gateways)
        plugged.add(link.port_id)
    _routes(ns, router)
    firewall.apply(ns, _nat(router))
    return plugged


def _routes(ns: str, router: RouterWant) -> None:
    for route in router.routes:
        subprocess.run(["ip", "netns", "exec", ns, "ip", "route", "replace", route["destination"], "via",
                        route["nexthop"]], capture_output=True, timeout=10, check=False)


def wanted_links(routers: dict[str, RouterWant]) -> set[str]:
    found = set()
    for router in routers.values():
        found |= {host_link("qr", link.port_id) for link in router.interfaces}
        if router.gateway is not None:
            found.add(host_link("qg", router.gateway.port_id))
    return found
