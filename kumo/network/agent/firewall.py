"""Security groups and anti-spoofing as one nftables ruleset, applied in one ``nft -j -f -`` transaction.

Inside the host namespace, bridged IPv4/IPv6 reaches the ``inet`` hooks through br_netfilter; there
the input interface is the bridge, so ports are told apart by MAC. Table ``inet kumo``:

- ``prerouting`` (raw priority): a conntrack zone per bridge, so two networks' addresses never mix;
- ``forward``: established/related accepted, invalid dropped; then ``ether saddr`` jumps to the
  sending port's egress chain (which *returns* when a rule allows, drops otherwise) and ``ether daddr``
  to the receiving port's ingress chain (accept when a rule allows, drop otherwise). A port with port
  security off, and network-owned ports (DHCP), have no chains: everything passes.

Table ``bridge kumo`` does per-port anti-spoofing in prerouting, where the real bridge port is
known: source MAC, ARP sender and IP source from fixed_ips and allowed_address_pairs; no DHCP or
router-advertisement servers in instances. Each change rebuilds both tables atomically.

Fail closed: frames from or to an instance port (``tap…``) the applied ruleset does not know are
dropped, so a port plugged before its rules are in place is closed; if a ruleset cannot be applied,
the agent applies ``lockdown`` (only ports without port security pass) and reports the ports DOWN.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import subprocess

from kumo.network import ipam
from kumo.network.agent import names
from kumo.network.agent.state import Desired, PortWant

PROTO_NUMBERS = {"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "dccp": 33, "gre": 47, "esp": 50, "ah": 51,
                 "icmpv6": 58, "ipv6-icmp": 58, "ospf": 89, "vrrp": 112, "sctp": 132, "udplite": 136}
ICMP = {1, 58}


class FirewallError(RuntimeError):
    pass


def match(left, right, op: str = "==") -> dict:
    return {"match": {"op": op, "left": left, "right": right}}


def payload(protocol: str, field: str) -> dict:
    return {"payload": {"protocol": protocol, "field": field}}


def meta(key: str) -> dict:
    return {"meta": {"key": key}}


def _set(items: list):
    return {"set": items} if len(items) != 1 else items[0]


def _addr(net) -> object:
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return {"prefix": {"addr": str(net.network_address), "len": net.prefixlen}}


def _collapse(addresses, version: int) -> list:
    """The addresses of one version as the fewest prefixes (remembered: a remote group's members are the
    same for every port of a pass, and usually from one pass to the next). Never mutate the result."""
    return _collapsed(tuple(addresses), version)


@functools.lru_cache(maxsize=4096)
def _collapsed(addresses: tuple, version: int) -> list:
    nets = []
    for a in addresses:
        try:
            net = ipaddress.ip_network(a, strict=False)
        except ValueError:
            continue
        if net.version == version:
            nets.append(net)
    return [_addr(n) for n in ipaddress.collapse_addresses(nets)]


ACCEPT, DROP, RETURN = {"accept": None}, {"drop": None}, {"return": None}


def _rule(family: str, chain: str, expr: list) -> dict:
    return {"add": {"rule": {"family": family, "table": names.TABLE, "chain": chain, "expr": expr}}}


def _chain(family: str, name: str, **base) -> dict:
    return {"add": {"chain": {"family": family, "table": names.TABLE, "name": name, **base}}}


def _sg_rule(rule, port_side: str, members: dict) -> list | None:
    """One security group rule as match expressions; ``None`` when it can match nothing (an empty remote group).
    ``port_side`` is the address field of the remote end: ``saddr`` for ingress, ``daddr`` for egress."""
    version = 6 if rule.ethertype == "IPv6" else 4
    family = "ip6" if version == 6 else "ip"
    expr = [match(meta("nfproto"), "ipv6" if version == 6 else "ipv4")]
    if rule.remote_ip_prefix:
        remote = _collapse([rule.remote_ip_prefix], version)
        if not remote:
            return None
        expr.append(match(payload(family, port_side), _set(remote)))
    elif rule.remote_group_id:
        remote = _collapse(members.get(rule.remote_group_id, []), version)
        if not remote:
            return None
        expr.append(match(payload(family, port_side), _set(remote)))
    if rule.protocol is not None:
        proto = PROTO_NUMBERS.get(rule.protocol, None)
        proto = int(rule.protocol) if proto is None and str(rule.protocol).isdigit() else proto
        if proto is None:
            return None
        if proto == 1 and version == 6:
            proto = 58
        expr.append(match(meta("l4proto"), proto))
        if proto in ICMP:
            icmp = "icmpv6" if proto == 58 else "icmp"
            if rule.port_range_min is not None:
                expr.append(match(payload(icmp, "type"), rule.port_range_min))
            if rule.port_range_max is not None:
                expr.append(match(payload(icmp, "code"), rule.port_range_max))
        elif rule.port_range_min is not None:
            low, high = rule.port_range_min, rule.port_range_max or rule.port_range_min
            expr.append(match(payload("th", "dport"), low if low == high else {"range": [low, high]}))
    return expr


def _port_chains(port: PortWant, desired: Desired) -> list[dict]:
    key = port.id.replace("-", "")[:16]
    ingress, egress = f"in-{key}", f"out-{key}"
    cmds = [_chain("inet", ingress), _chain("inet", egress)]
    udp = meta("l4proto")
    # always: DHCP and neighbour discovery, as Neutron's base rules do
    cmds.append(_rule("inet", ingress, [match(udp, 17), match(payload("udp", "sport"), 67),
                                        match(payload("udp", "dport"), 68), ACCEPT]))
    cmds.append(_rule("inet", ingress, [match(udp, 17), match(payload("udp", "sport"), 547),
                                        match(payload("udp", "dport"), 546), ACCEPT]))
    cmds.append(_rule("inet", ingress, [match(udp, 58), match(payload("icmpv6", "type"),
                                                                _set([130, 131, 132, 135, 136, 134])), ACCEPT]))
    cmds.append(_rule("inet", egress, [match(udp, 17), match(payload("udp", "sport"), 68),
                                       match(payload("udp", "dport"), 67), RETURN]))
    cmds.append(_rule("inet", egress, [match(udp, 17), match(payload("udp", "sport"), 546),
                                       match(payload("udp", "dport"), 547), RETURN]))
    cmds.append(_rule("inet", egress, [match(udp, 58), match(payload("icmpv6", "type"),
                                                               _set([130, 131, 132, 133, 135, 136, 143])), RETURN]))
    for gid in port.group_ids:
        for rule in desired.rules.get(gid, []):
            inbound = rule.direction == "ingress"
            expr = _sg_rule(rule, "saddr" if inbound else "daddr", desired.members)
            if expr is not None:
                cmds.append(_rule("inet", ingress if inbound else egress, [*expr, ACCEPT if inbound else RETURN]))
    cmds.append(_rule("inet", ingress, [DROP]))
    cmds.append(_rule("inet", egress, [DROP]))
    return cmds


def _spoof_chain(port: PortWant) -> list[dict]:
    chain = f"spoof-{port.id.replace('-', '')[:16]}"
    macs = sorted({port.mac, *(p["mac_address"] for p in port.pairs if p.get("mac_address"))})
    ips = [a for a, _ in port.addresses] + [p["ip_address"] for p in port.pairs]
    v4 = _collapse(ips, 4)
    v6 = _collapse(ips + [ipam.eui64("fe80::/64", m) for m in macs], 6)
    etype = payload("ether", "type")
    cmds = [_chain("bridge", chain),
            _rule("bridge", chain, [match(payload("ether", "saddr"), _set(macs), "!="), DROP]),
            # no DHCP servers or router advertisements from an instance
            _rule("bridge", chain, [match(etype, "ip"), match(payload("ip", "protocol"), 17),
                                    match(payload("udp", "sport"), 67), DROP]),
            _rule("bridge", chain, [match(etype, "ip6"), match(payload("ip6", "nexthdr"), 17),
                                    match(payload("udp", "sport"), 547), DROP]),
            _rule("bridge", chain, [match(etype, "ip6"), match(payload("ip6", "nexthdr"), 58),
                                    match(payload("icmpv6", "type"), 134), DROP]),
            # a DHCP client has no address yet
            _rule("bridge", chain, [match(etype, "ip"), match(payload("ip", "saddr"), "0.0.0.0"),
                                    match(payload("ip", "protocol"), 17), match(payload("udp", "dport"), 67),
                                    ACCEPT]),
            _rule("bridge", chain, [match(etype, "arp"), match(payload("arp", "saddr ether"), _set(macs), "!="),
                                    DROP])]
    arp_ips = v4 + ["0.0.0.0"]
    cmds.append(_rule("bridge", chain, [match(etype, "arp"), match(payload("arp", "saddr ip"), _set(arp_ips), "!="),
                                        DROP]))
    cmds.append(_rule("bridge", chain, [match(etype, "ip"), match(payload("ip", "saddr"), _set(v4), "!="), DROP])
                if v4 else _rule("bridge", chain, [match(etype, "ip"), DROP]))
    cmds.append(_rule("bridge", chain, [match(etype, "ip6"),
                                        match(payload("ip6", "saddr"), _set(v6 + ["::"]), "!="), DROP]))
    return cmds


def _tables() -> list[dict]:
    cmds: list[dict] = []
    for family in ("inet", "bridge"):  # replace, atomically: add (a no-op if present), delete, build anew
        cmds.append({"add": {"table": {"family": family, "name": names.TABLE}}})
        cmds.append({"delete": {"table": {"family": family, "name": names.TABLE}}})
        cmds.append({"add": {"table": {"family": family, "name": names.TABLE}}})
    return cmds


def _unknown_taps(known: list[str]) -> list[dict]:
    """Bridge chains that drop every frame from or to an instance port (or trunk subport) this ruleset does
    not know: a port plugged before its rules are in place (or while they cannot be applied) is closed."""
    cmds = [_chain("bridge", "prerouting", type="filter", hook="prerouting", prio=-200, policy="accept"),
            _chain("bridge", "forward", type="filter", hook="forward", prio=0, policy="accept")]
    for chain, key in (("prerouting", "iifname"), ("forward", "oifname")):
        for prefix in (names.TAP, names.TRUNK_LINK):
            expr = [match(meta(key), prefix + "*")]
            mine = sorted(k for k in known if k.startswith(prefix))
            if mine:
                expr.append(match(meta(key), _set(mine), "!="))
            cmds.append(_rule("bridge", chain, [*expr, DROP]))
    return cmds


def _links(desired: Desired, taps: dict[str, str], open_only: bool = False) -> list[str]:
    """The host-side links of the plugged instance ports and trunk subports (only those without port
    security with ``open_only``)."""
    ports = {**desired.ports, **desired.subports()}
    return [taps[pid] for pid, p in ports.items() if pid in taps and not (open_only and p.security)]


def ruleset(desired: Desired, taps: dict[str, str]) -> list[dict]:
    """The whole ruleset for ``desired`` (``taps``: port id → host-side link name of plugged ports)."""
    cmds = _tables()
    cmds.append(_chain("inet", "prerouting", type="filter", hook="prerouting", prio=-300, policy="accept"))
    cmds.append(_chain("inet", "forward", type="filter", hook="forward", prio=0, policy="accept"))
    cmds.extend(_unknown_taps(_links(desired, taps)))
    zones = [[names.bridge(nid), names.zone(nid)] for nid in sorted(desired.networks)]
    if zones:
        cmds.append(_rule("inet", "prerouting", [{"mangle": {"key": {"ct": {"key": "zone"}}, "value": {
            "map": {"key": meta("iifname"), "data": {"set": zones}}}}}]))
    cmds.append(_rule("inet", "forward", [match({"ct": {"key": "state"}}, ["established", "related"], "in"), ACCEPT]))
    cmds.append(_rule("inet", "forward", [match({"ct": {"key": "state"}}, "invalid", "in"), DROP]))
    ports = {**desired.ports, **desired.subports()}  # trunk subports: their links (``tk…``) on their bridges
    secured = [p for pid, p in sorted(ports.items()) if p.security and pid in taps]
    egress_map, ingress_map, spoof_map = [], [], []
    for port in secured:
        key = port.id.replace("-", "")[:16]
        cmds.extend(_port_chains(port, desired))
        cmds.extend(_spoof_chain(port))
        egress_map.append([port.mac, {"jump": {"target": f"out-{key}"}}])
        ingress_map.append([port.mac, {"jump": {"target": f"in-{key}"}}])
        spoof_map.append([taps[port.id], {"jump": {"target": f"spoof-{key}"}}])
    if secured:
        for field, verdicts in (("saddr", egress_map), ("daddr", ingress_map)):
            vmap = {"vmap": {"key": payload("ether", field), "data": {"set": verdicts}}}
            cmds.append(_rule("inet", "forward", [vmap]))
        cmds.append(_rule("bridge", "prerouting", [{"vmap": {"key": meta("iifname"), "data": {"set": spoof_map}}}]))
    return cmds


def lockdown(taps: dict[str, str], desired: Desired) -> list[dict]:
    """What stands when the full ruleset cannot be applied: ports without port security pass, every
    other instance port is cut off (no security-group state, so nothing can be allowed by mistake)."""
    return _tables() + _unknown_taps(_links(desired, taps, open_only=True))


def removal() -> list[dict]:
    cmds = []
    for family in ("inet", "bridge"):
        cmds.append({"add": {"table": {"family": family, "name": names.TABLE}}})
        cmds.append({"delete": {"table": {"family": family, "name": names.TABLE}}})
    return cmds


def apply(namespace: str, commands: list[dict]) -> None:
    """Run ``commands`` as one nft transaction inside ``namespace``: all of it happens, or none."""
    text = json.dumps({"nftables": [{"metainfo": {"json_schema_version": 1}}, *commands]})
    proc = subprocess.run(["ip", "netns", "exec", namespace, "nft", "-j", "-f", "-"], input=text,
                          capture_output=True, text=True, timeout=30, check=False)
    if proc.returncode != 0:
        raise FirewallError(f"nft failed in {namespace}: {proc.stderr.strip()[:2000]}")


def tables(namespace: str) -> list[str]:
    proc = subprocess.run(["ip", "netns", "exec", namespace, "nft", "-j", "list", "tables"], capture_output=True,
                          text=True, timeout=30, check=False)
    if proc.returncode != 0:
        return []
    return [f"{i['table']['family']} {i['table']['name']}" for i in json.loads(proc.stdout)["nftables"] if "table" in i]
