"""Security groups and anti-spoofing in nftables, changed incrementally: one transaction per pass holding
only what changed.

Inside the host namespace, bridged IPv4/IPv6 reaches the ``inet`` hooks through br_netfilter; there
the input interface is the bridge, so ports are told apart by MAC. Table ``inet kumo``:

- ``prerouting`` (raw priority): a conntrack zone per bridge, so two networks' addresses never mix;
- ``forward`` (priority 0): established/related accepted, invalid dropped; then the named verdict map
  ``egress`` (``ether saddr`` → the sending port's chain ``out-…``); ``forward-in`` (priority 10, the same
  hook, so a packet accepted by the first goes on to it) does the same with ``ingress`` (``ether daddr`` →
  the receiving port's ``in-…``). A port's chain accepts the base traffic (DHCP, neighbour discovery), jumps
  to each of its groups' chains ``gi-…``/``go-…`` (which accept what their rules allow), then drops. A port
  with port security off, and network-owned ports (DHCP), have no chains: everything passes;
- per remote group, named sets of its members' addresses: ``h4-…``/``h6-…`` (single addresses, changed
  element by element as ports come and go) and ``p4-…``/``p6-…`` (prefixes of allowed address pairs,
  interval sets); a rule with ``remote_group_id`` matches ``saddr``/``daddr`` against them.

Table ``bridge kumo`` does per-port anti-spoofing in prerouting, where the real bridge port is known (the
verdict map ``spoof``: link → ``spoof-…``): source MAC, ARP sender and IP source from fixed_ips and
allowed_address_pairs; no DHCP or router-advertisement servers in instances.

``wanted`` computes what should be there (per port its groups and anti-spoofing, per group its rules and its
members); ``commands`` turns the difference from what was applied into one transaction (``commands(None, …)``:
the whole ruleset, both tables replaced — the path at start, after a crash and after any failure, which the
incremental path is tested equal to). Additions are cheap in the kernel, deletions wait for an RCU grace
period (~12 ms here): a new port, a new member or a new rule is only added (a group's chain grows by the
rules appended to it), removals happen in the passes that remove something.

Fail closed: frames from or to an instance port (``tap…``/``tk…``) not in the set ``known`` are dropped,
so a port plugged before its rules are in place is closed; if a ruleset cannot be applied, the agent
applies ``lockdown`` (only ports without port security pass) and reports the ports DOWN.
"""

from __future__ import annotations

import functools
import ipaddress
import json
from dataclasses import dataclass

from kumo.network import ipam
from kumo.network.agent import names, nft
from kumo.network.agent.members import GroupMembers
from kumo.network.agent.state import Desired, PortWant

PROTO_NUMBERS = {"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "dccp": 33, "gre": 47, "esp": 50, "ah": 51,
                 "icmpv6": 58, "ipv6-icmp": 58, "ospf": 89, "vrrp": 112, "sctp": 132, "udplite": 136}
ICMP = {1, 58}


FirewallError = nft.NftError


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


ACCEPT, DROP = {"accept": None}, {"drop": None}


def _rule(family: str, chain: str, expr: list) -> dict:
    return {"add": {"rule": {"family": family, "table": names.TABLE, "chain": chain, "expr": expr}}}


def _sg_rule(rule, port_side: str) -> list[list]:
    """One security group rule as lists of match expressions (none when it can match nothing; two for a
    remote group: its single addresses and its prefixes). ``port_side`` is the address field of the remote
    end: ``saddr`` for ingress, ``daddr`` for egress."""
    version = 6 if rule.ethertype == "IPv6" else 4
    family = "ip6" if version == 6 else "ip"
    expr = [match(meta("nfproto"), "ipv6" if version == 6 else "ipv4")]
    remotes: list[list] = [[]]
    if rule.remote_ip_prefix:
        remote = _collapse([rule.remote_ip_prefix], version)
        if not remote:
            return []
        expr.append(match(payload(family, port_side), _set(remote)))
    elif rule.remote_group_id:
        remotes = [[match(payload(family, port_side), "@" + set_name(kind, rule.remote_group_id))]
                   for kind in (f"h{version}", f"p{version}")]
    if rule.protocol is not None:
        proto = PROTO_NUMBERS.get(rule.protocol, None)
        proto = int(rule.protocol) if proto is None and str(rule.protocol).isdigit() else proto
        if proto is None:
            return []
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
    return [[*expr[:1], *remote, *expr[1:]] for remote in remotes]


BASE_IN = [  # always: DHCP and neighbour discovery, as Neutron's base rules do
    [match(meta("l4proto"), 17), match(payload("udp", "sport"), 67), match(payload("udp", "dport"), 68), ACCEPT],
    [match(meta("l4proto"), 17), match(payload("udp", "sport"), 547), match(payload("udp", "dport"), 546), ACCEPT],
    [match(meta("l4proto"), 58), match(payload("icmpv6", "type"), _set([130, 131, 132, 135, 136, 134])), ACCEPT]]
BASE_OUT = [
    [match(meta("l4proto"), 17), match(payload("udp", "sport"), 68), match(payload("udp", "dport"), 67), ACCEPT],
    [match(meta("l4proto"), 17), match(payload("udp", "sport"), 546), match(payload("udp", "dport"), 547), ACCEPT],
    [match(meta("l4proto"), 58), match(payload("icmpv6", "type"), _set([130, 131, 132, 133, 135, 136, 143])),
     ACCEPT]]


def key(port_id: str) -> str:
    return port_id.replace("-", "")[:16]


def set_name(kind: str, group_id: str) -> str:
    """A remote group's set: ``h4``/``h6`` single addresses, ``p4``/``p6`` prefixes."""
    return f"{kind}-{group_id.replace('-', '')[:16]}"


def group_chain(direction: str, group_id: str) -> str:
    return f"{'gi' if direction == 'ingress' else 'go'}-{group_id.replace('-', '')[:16]}"


def _group_rules(rules) -> tuple[str, str]:
    """A group's ``gi-…`` (ingress) and ``go-…`` (egress) chains' rules, as JSON text: each accepts what it allows."""
    inbound, outbound = [], []
    for rule in rules:
        ingress = rule.direction == "ingress"
        for expr in _sg_rule(rule, "saddr" if ingress else "daddr"):
            (inbound if ingress else outbound).append([*expr, ACCEPT])
    return json.dumps(inbound), json.dumps(outbound)


def _port_rules(direction: str, groups: tuple[str, ...]) -> list:
    """A port's ``in-…``/``out-…`` chain: the base rules, a jump to each of its groups' chains, then drop."""
    return [*(BASE_IN if direction == "ingress" else BASE_OUT),
            *([{"jump": {"target": group_chain(direction, gid)}}] for gid in groups), [DROP]]


def _spoof(port: PortWant) -> str:
    """A port's ``spoof-…`` rules as JSON text (remembered: the same from one pass to the next)."""
    return _spoof_text(port.mac, tuple(port.addresses), json.dumps(port.pairs, sort_keys=True))


@functools.lru_cache(maxsize=4096)
def _spoof_text(mac: str, addresses: tuple, pairs_text: str) -> str:
    return json.dumps(_spoof_rules(mac, addresses, json.loads(pairs_text)))


def _spoof_rules(mac: str, addresses, pairs: list) -> list:
    macs = sorted({mac, *(p["mac_address"] for p in pairs if p.get("mac_address"))})
    ips = [a for a, _ in addresses] + [p["ip_address"] for p in pairs]
    v4 = _collapse(ips, 4)
    v6 = _collapse(ips + [ipam.eui64("fe80::/64", m) for m in macs], 6)
    etype = payload("ether", "type")
    return [
        [match(payload("ether", "saddr"), _set(macs), "!="), DROP],
        # no DHCP servers or router advertisements from an instance
        [match(etype, "ip"), match(payload("ip", "protocol"), 17), match(payload("udp", "sport"), 67), DROP],
        [match(etype, "ip6"), match(payload("ip6", "nexthdr"), 17), match(payload("udp", "sport"), 547), DROP],
        [match(etype, "ip6"), match(payload("ip6", "nexthdr"), 58), match(payload("icmpv6", "type"), 134), DROP],
        # a DHCP client has no address yet
        [match(etype, "ip"), match(payload("ip", "saddr"), "0.0.0.0"), match(payload("ip", "protocol"), 17),
         match(payload("udp", "dport"), 67), ACCEPT],
        [match(etype, "arp"), match(payload("arp", "saddr ether"), _set(macs), "!="), DROP],
        [match(etype, "arp"), match(payload("arp", "saddr ip"), _set(v4 + ["0.0.0.0"]), "!="), DROP],
        [match(etype, "ip"), match(payload("ip", "saddr"), _set(v4), "!="), DROP] if v4 else [match(etype, "ip"), DROP],
        [match(etype, "ip6"), match(payload("ip6", "saddr"), _set(v6 + ["::"]), "!="), DROP]]


@dataclass(frozen=True)
class PortRules:
    """What one secured port has in the kernel: its MAC (in ``egress``/``ingress``), its link (in ``spoof``),
    its groups (jumped to from its ``in-…``/``out-…`` chains, in order) and its ``spoof-…`` rules (JSON text)."""
    mac: str
    link: str
    groups: tuple
    spoof: str


@dataclass(frozen=True)
class Rules:
    """The whole firewall of a host, as ``wanted`` computes it and as it was last applied."""
    zones: str  # JSON: [[bridge, zone], …]
    known: frozenset  # links of the plugged instance ports and trunk subports
    ports: dict  # key(port id) → PortRules, the plugged ports with port security
    chains: dict  # group id → (its ingress rules, its egress rules) as JSON text: the groups of those ports
    groups: dict  # remote group id → GroupMembers


def wanted(desired: Desired, taps: dict[str, str]) -> Rules:
    """What the firewall should be for ``desired`` (``taps``: port id → host-side link of plugged ports)."""
    ports = {**desired.ports, **desired.subports()}  # trunk subports: their links (``tk…``) on their bridges
    secured = {}
    for pid, port in sorted(ports.items()):
        if port.security and pid in taps:
            secured[key(pid)] = PortRules(port.mac.lower(), taps[pid], tuple(dict.fromkeys(port.group_ids)),
                                          _spoof(port))
    chains = {gid: _group_rules(desired.rules.get(gid, [])) for p in secured.values() for gid in p.groups}
    return Rules(json.dumps([[names.bridge(nid), names.zone(nid)] for nid in sorted(desired.networks)]),
                 frozenset(taps[pid] for pid in ports if pid in taps), secured, chains, dict(desired.members))


def _cmd(verb: str, kind: str, family: str, **spec) -> dict:
    return {verb: {kind: {"family": family, "table": names.TABLE, **spec}}}


def _elements(verb: str, family: str, name: str, elements: list) -> list[dict]:
    return [_cmd(verb, "element", family, name=name, elem=elements)] if elements else []


def _base() -> list[dict]:
    """Both tables anew: base chains, maps, the set of known links, the fixed rules."""
    cmds: list[dict] = []
    for family in ("inet", "bridge"):  # replace, atomically: add (a no-op if present), delete, build anew
        cmds += [{"add": {"table": {"family": family, "name": names.TABLE}}},
                 {"delete": {"table": {"family": family, "name": names.TABLE}}},
                 {"add": {"table": {"family": family, "name": names.TABLE}}}]
    cmds += [_cmd("add", "chain", "inet", name="prerouting", type="filter", hook="prerouting", prio=-300,
                  policy="accept"),
             _cmd("add", "map", "inet", name="egress", type="ether_addr", map="verdict"),
             _cmd("add", "map", "inet", name="ingress", type="ether_addr", map="verdict")]
    # the sender's egress rules, then (a chain of its own, later on the same hook: an accept in the first goes
    # on to it) the receiver's ingress rules; a drop anywhere is final
    for chain, prio, field, vmap in (("forward", 0, "saddr", "@egress"), ("forward-in", 10, "daddr", "@ingress")):
        cmds += [_cmd("add", "chain", "inet", name=chain, type="filter", hook="forward", prio=prio, policy="accept"),
                 _rule("inet", chain, [match({"ct": {"key": "state"}}, ["established", "related"], "in"), ACCEPT]),
                 _rule("inet", chain, [match({"ct": {"key": "state"}}, "invalid", "in"), DROP]),
                 _rule("inet", chain, [{"vmap": {"key": payload("ether", field), "data": vmap}}])]
    cmds += [
             _cmd("add", "map", "bridge", name="spoof", type="ifname", map="verdict")]
    return cmds + _unknown_links() + [
        _rule("bridge", "prerouting", [{"vmap": {"key": meta("iifname"), "data": "@spoof"}}])]


def _unknown_links() -> list[dict]:
    """Bridge chains that drop every frame from or to an instance port (or trunk subport) not in the set
    ``known``: a port plugged before its rules are in place (or while they cannot be applied) is closed."""
    cmds = [_cmd("add", "chain", "bridge", name="prerouting", type="filter", hook="prerouting", prio=-200,
                 policy="accept"),
            _cmd("add", "chain", "bridge", name="forward", type="filter", hook="forward", prio=0, policy="accept"),
            _cmd("add", "set", "bridge", name="known", type="ifname")]
    for chain, field in (("prerouting", "iifname"), ("forward", "oifname")):
        for prefix in (names.TAP, names.TRUNK_LINK):
            cmds.append(_rule("bridge", chain, [match(meta(field), prefix + "*"),
                                                match(meta(field), "@known", "!="), DROP]))
    return cmds


SET_KINDS = (("h4", "ipv4_addr", False), ("h6", "ipv6_addr", False), ("p4", "ipv4_addr", True),
             ("p6", "ipv6_addr", True))


def _members(group: GroupMembers) -> tuple:
    return group.hosts4, group.hosts6, group.prefixes4, group.prefixes6


def _prefix(text: str) -> dict:
    address, length = text.split("/")
    return {"prefix": {"addr": address, "len": int(length)}}


def commands(applied: Rules | None, want: Rules) -> list[dict]:
    """One transaction taking the kernel from ``applied`` to ``want``; with ``applied`` None, the whole
    ruleset (both tables replaced)."""
    full = applied is None
    if full:
        applied = Rules("[]", frozenset(), {}, {}, {})
    cmds = _base() if full else []
    # remote groups' sets: new ones made, existing ones changed element by element (prefixes: refilled)
    for gid, group in want.groups.items():
        before = applied.groups.get(gid)
        for (kind, kind_type, interval), now, was in zip(SET_KINDS, _members(group), _members(before or GROUPLESS)):
            name = set_name(kind, gid)
            if before is None:
                spec = {"flags": ["interval"]} if interval else {}
                cmds.append(_cmd("add", "set", "inet", name=name, type=kind_type, **spec))
            if interval:
                if now != was or before is None:
                    if before is not None:
                        cmds.append(_cmd("flush", "set", "inet", name=name))
                    cmds += _elements("add", "inet", name, [_prefix(p) for p in now])
            elif now != was:
                cmds += _elements("delete", "inet", name, sorted(was - now))
                cmds += _elements("add", "inet", name, sorted(now - was))
    # ports: chains made or refilled, map entries moved, chains of ports gone deleted (after their entries)
    gone_entries: dict[str, list] = {"egress": [], "ingress": [], "spoof": []}
    new_entries: dict[str, list] = {"egress": [], "ingress": [], "spoof": []}
    # groups' chains: made, or grown by the rules added (no deletion in the kernel: no RCU grace period to
    # wait for), or refilled when a rule went
    for gid, rules in want.chains.items():
        before = applied.chains.get(gid)
        for direction, now, was in zip(("ingress", "egress"), rules, before or ("[]", "[]")):
            if before is not None and now == was:
                continue
            now_rules, was_rules = json.loads(now), json.loads(was)
            name = group_chain(direction, gid)
            if before is None:
                cmds.append(_cmd("add", "chain", "inet", name=name))
            elif now_rules[:len(was_rules)] == was_rules:
                now_rules = now_rules[len(was_rules):]
            else:
                cmds.append(_cmd("flush", "chain", "inet", name=name))
            cmds += [_rule("inet", name, expr) for expr in now_rules]
    for k, port in want.ports.items():
        before = applied.ports.get(k)
        for family, chain, rules, old in (
                ("inet", f"in-{k}", port.groups, before and before.groups),
                ("inet", f"out-{k}", port.groups, before and before.groups),
                ("bridge", f"spoof-{k}", port.spoof, before and before.spoof)):
            if rules == old:
                continue
            cmds.append(_cmd("add" if before is None else "flush", "chain", family, name=chain))
            exprs = json.loads(rules) if family == "bridge" else _port_rules(
                "ingress" if chain.startswith("in-") else "egress", rules)
            cmds += [_rule(family, chain, expr) for expr in exprs]
        if before is None or before.mac != port.mac:
            if before is not None:
                gone_entries["egress"].append(before.mac)
                gone_entries["ingress"].append(before.mac)
            new_entries["egress"].append([port.mac, {"jump": {"target": f"out-{k}"}}])
            new_entries["ingress"].append([port.mac, {"jump": {"target": f"in-{k}"}}])
        if before is None or before.link != port.link:
            if before is not None:
                gone_entries["spoof"].append(before.link)
            new_entries["spoof"].append([port.link, {"jump": {"target": f"spoof-{k}"}}])
    gone = [(k, port) for k, port in applied.ports.items() if k not in want.ports]
    for k, port in gone:
        gone_entries["egress"].append(port.mac)
        gone_entries["ingress"].append(port.mac)
        gone_entries["spoof"].append(port.link)
    for name, family in (("egress", "inet"), ("ingress", "inet"), ("spoof", "bridge")):
        cmds += _elements("delete", family, name, gone_entries[name])
        cmds += _elements("add", family, name, new_entries[name])
    for k, _ in gone:
        cmds += [_cmd("delete", "chain", "inet", name=f"in-{k}"), _cmd("delete", "chain", "inet", name=f"out-{k}"),
                 _cmd("delete", "chain", "bridge", name=f"spoof-{k}")]
    for gid in applied.chains.keys() - want.chains.keys():  # no port of theirs here any more
        cmds += [_cmd("delete", "chain", "inet", name=group_chain(d, gid)) for d in ("ingress", "egress")]
    for gid in applied.groups.keys() - want.groups.keys():  # no rule refers to them any more
        cmds += [_cmd("delete", "set", "inet", name=set_name(kind, gid)) for kind, _, _ in SET_KINDS]
    cmds += _elements("delete", "bridge", "known", sorted(applied.known - want.known))
    cmds += _elements("add", "bridge", "known", sorted(want.known - applied.known))
    if want.zones != applied.zones:
        if not full:
            cmds.append(_cmd("flush", "chain", "inet", name="prerouting"))
        zones = json.loads(want.zones)
        if zones:
            cmds.append(_rule("inet", "prerouting", [{"mangle": {"key": {"ct": {"key": "zone"}}, "value": {
                "map": {"key": meta("iifname"), "data": {"set": zones}}}}}]))
    return cmds


GROUPLESS = GroupMembers(frozenset(), frozenset(), (), ())


def lockdown(taps: dict[str, str], desired: Desired) -> list[dict]:
    """What stands when the full ruleset cannot be applied: ports without port security pass, every
    other instance port is cut off (no security-group state, so nothing can be allowed by mistake)."""
    ports = {**desired.ports, **desired.subports()}
    open_links = sorted(taps[pid] for pid, p in ports.items() if pid in taps and not p.security)
    cmds: list[dict] = []
    for family in ("inet", "bridge"):
        cmds += [{"add": {"table": {"family": family, "name": names.TABLE}}},
                 {"delete": {"table": {"family": family, "name": names.TABLE}}},
                 {"add": {"table": {"family": family, "name": names.TABLE}}}]
    return cmds + _unknown_links() + _elements("add", "bridge", "known", open_links)


def removal() -> list[dict]:
    cmds = []
    for family in ("inet", "bridge"):
        cmds.append({"add": {"table": {"family": family, "name": names.TABLE}}})
        cmds.append({"delete": {"table": {"family": family, "name": names.TABLE}}})
    return cmds


def apply(namespace: str, commands: list[dict]) -> None:
    """Run ``commands`` as one nft transaction inside ``namespace``: all of it happens, or none."""
    nft.run(namespace, commands)


def tables(namespace: str) -> list[str]:
    return [f"{i['table']['family']} {i['table']['name']}" for i in nft.query(namespace, {"list": {"tables": None}})
            if "table" in i]
