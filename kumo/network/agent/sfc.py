"""Service function chaining in the host namespace: networking-sfc port chains as nftables netdev steering.

The model (which flows, which groups, which pair a flow takes) is ``kumo.network.sfc.steering``; this module
renders it for the ports plugged on this host, in its own table ``netdev kumo-sfc`` (the security-group
tables are never rewritten for it), one nft transaction per change:

- a base chain ``dev-<tap>`` on the ingress hook of every tap with a role: a chain's logical source port
  (anti-spoofing first — a forged frame is not steered and the bridge's spoof chain drops it — then each
  classifier: ``goto`` the first group's chooser), a service function's egress port (the chain's
  classifiers again: on to the next group, or *accept* into the bridge after the last one, so the
  destination's security group still applies), and for symmetric chains the logical destination port and
  the functions' ingress ports (reversed classifiers, groups in reverse order). Each point matches the
  flows as the model's ``positions`` has them there: a group's ``ppg_n_tuple_mapping`` narrows what goes
  in (``ingress_n_tuple``) and rewrites what is recognised coming out (``egress_n_tuple``), mirrored back;
- a chooser per (chain, direction, group, family): ``jhash`` of the lb fields into 64 buckets, a verdict
  map to one chain per pair, which counts, rewrites the destination MAC for a routing function and
  ``fwd``s the frame to the pair's ingress (egress, on the way back) tap. A tap group gets a ``dup``;
- named counters (``c<chain_id>-…``), kept across changes: ``kumo sfc trace --live`` reads them.

Service-function taps are isolated on their bridge (learning, unicast/multicast/broadcast flooding off,
a static FDB entry for their own MAC) and drop non-IP frames that are not their own: without this a
bump-in-the-wire function loops floods and the bridge learns the source's MAC behind it.
Steering only happens when a chain's source port and all its functions are plugged on this host.
"""

from __future__ import annotations

import json
import logging
import subprocess

import sqlalchemy as sa

from kumo.network.agent import firewall, nft
from kumo.network.agent.firewall import match, meta, payload
from kumo.network.agent.state import Desired
from kumo.network.sfc import steering
from kumo.network.sfc.models import PortPair

log = logging.getLogger("kumo.network.agent.sfc")
TABLE = "kumo-sfc"
FAMILY = "netdev"
FLAGS = ("learning", "flood", "mcast_flood", "bcast_flood")


# -- names ---------------------------------------------------------------------------------------------------

counter_classified, counter_hop, counter_out = steering.counter_classified, steering.counter_hop, steering.counter_out


def _chooser(chain: steering.Chain, index: int, reverse: bool, v6: bool) -> str:
    return f"c{chain.number}-{'r' if reverse else 'f'}{index}{'-6' if v6 else ''}"


def _pair_chain(chain: steering.Chain, index: int, pair: steering.Pair, reverse: bool) -> str:
    return counter_hop(chain, index, pair, reverse)


# -- reading --------------------------------------------------------------------------------------------------

def read(db) -> tuple[list[steering.Chain], set[str]]:
    """The chains, and every port of every port pair (service-function ports, isolated on their bridge)."""
    sf_ports = {pid for row in db.execute(sa.select(PortPair.ingress, PortPair.egress)) for pid in row}
    return steering.read(db), sf_ports


# -- rendering ------------------------------------------------------------------------------------------------

def _cmd(verb: str, kind: str, **body) -> dict:
    return {verb: {kind: {"family": FAMILY, "table": TABLE, **body}}}


def _rule(chain: str, expr: list) -> dict:
    return _cmd("add", "rule", chain=chain, expr=expr)


def _classify(fc: steering.Classifier) -> list | None:
    """Match expressions for ``fc`` (the source port is the device the rule hangs on); None: matches nothing."""
    v6 = fc.ethertype == "IPv6"
    fam, version = ("ip6", 6) if v6 else ("ip", 4)
    expr = [match(meta("protocol"), fam)]
    constraints = fc.constraints()  # the classifier's own fields, then a group's ingress_n_tuple
    for name, prefix in constraints:
        if name.endswith("prefix"):
            nets = firewall._collapse([prefix], version)
            if not nets:
                return None  # a prefix of the other family: matches nothing
            expr.append(match(payload(fam, "saddr" if name == "src_prefix" else "daddr"), firewall._set(nets)))
    if fc.destination is not None and fc.pin_dst:
        addresses = firewall._collapse(fc.destination.addresses, version)
        if not addresses:
            return None
        expr.append(match(payload(fam, "daddr"), firewall._set(addresses)))
    if fc.protocol:
        number = firewall.PROTO_NUMBERS[fc.protocol]
        expr.append(match(meta("l4proto"), 58 if v6 and number == 1 else number))
    for name, (low, high) in ((n, v) for n, v in constraints if not n.endswith("prefix")):
        low, high = low if low is not None else 0, high if high is not None else 65535
        expr.append(match(payload("th", name), low if low == high else {"range": [low, high]}))
    return expr


def _guard(port) -> list[list]:
    """Anti-spoofing before classification: a frame not from the port's MAC and addresses is not steered."""
    if not port.security:
        return []
    macs = sorted({port.mac.lower(), *(p["mac_address"].lower() for p in port.pairs if p.get("mac_address"))})
    ips = [a for a, _ in port.addresses] + [p["ip_address"] for p in port.pairs]
    rules = [[match(payload("ether", "saddr"), firewall._set(macs), "!="), {"return": None}]]
    for fam, version in (("ip", 4), ("ip6", 6)):
        nets = firewall._collapse(ips, version)
        rules.append([match(meta("protocol"), fam), match(payload(fam, "saddr"), firewall._set(nets), "!="),
                      {"return": None}] if nets else [match(meta("protocol"), fam), {"return": None}])
    return rules


def _hash(group: steering.Group, reverse: bool, v6: bool) -> dict:
    fam = "ip6" if v6 else "ip"
    parts = []
    for name in group.fields(reverse):
        protocol, field, _, _ = steering.LB[name]
        parts.append(payload(fam if protocol == "ip" else protocol, field))
    expr = parts[0] if len(parts) == 1 else {"concat": parts}
    return {"jhash": {"mod": steering.BUCKETS, "seed": group.seed, "expr": expr}}


class Plan:
    """The commands for one host's steering: chains, rules and counters, built up role by role."""

    def __init__(self, taps: dict[str, str]):
        self.taps = taps  # port id → tap, for ports plugged here
        self.devices: dict[str, list[list]] = {}  # tap → rule expressions of its base chain, in order
        self.chains: dict[str, list[list]] = {}  # regular chain → rule expressions
        self.counters: set[str] = set()
        self.passive: set[str] = set()  # taps of tap-group functions: they get copies, nothing comes back

    def local(self, chain: steering.Chain) -> bool:
        ports = [p for g in chain.groups for pair in g.pairs for p in (pair.ingress, pair.egress)]
        return bool(chain.groups) and all(g.pairs for g in chain.groups) and all(p.id in self.taps for p in ports)

    def counted(self, name: str) -> dict:
        self.counters.add(name)
        return {"counter": name}

    def next_step(self, chain: steering.Chain, index: int, reverse: bool, v6: bool) -> dict:
        """The verdict after group ``index - 1`` (``index + 1`` going back): the next chooser or delivery."""
        if 0 <= index < len(chain.groups):
            return {"goto": {"target": self.chooser(chain, index, reverse, v6)}}
        return {"accept": None}

    def chooser(self, chain: steering.Chain, index: int, reverse: bool, v6: bool) -> str:
        name = _chooser(chain, index, reverse, v6)
        if name in self.chains:
            return name
        self.chains[name] = rules = []
        group = chain.groups[index]
        after = index - 1 if reverse else index + 1
        if group.tap:  # a passive tap: a copy to its function, the original goes on
            pair = group.pairs[0]
            self.passive |= {self.taps[pair.ingress.id], self.taps[pair.egress.id]}
            rules.append([self.counted(counter_hop(chain, index, pair, reverse)),
                          {"dup": {"dev": self.taps[pair.ingress.id]}}])
            if not 0 <= after < len(chain.groups):
                rules.append([self.counted(counter_out(chain, reverse)), {"accept": None}])
            else:
                rules.append([self.next_step(chain, after, reverse, v6)])
            return name
        targets = [self.pair_chain(chain, index, pair, reverse) for pair in group.pairs]
        if len(targets) == 1:
            rules.append([{"goto": {"target": targets[0]}}])
        else:
            verdicts = [[bucket, {"goto": {"target": targets[owner]}}] for bucket, owner in enumerate(group.buckets)]
            rules.append([{"vmap": {"key": _hash(group, reverse, v6), "data": {"set": verdicts}}}])
        return name

    def pair_chain(self, chain: steering.Chain, index: int, pair: steering.Pair, reverse: bool) -> str:
        name = _pair_chain(chain, index, pair, reverse)
        port = pair.egress if reverse else pair.ingress
        expr = [self.counted(counter_hop(chain, index, pair, reverse))]
        if pair.routing:  # an L3 function only takes frames addressed to the port it is entered by
            expr.append({"mangle": {"key": payload("ether", "daddr"), "value": port.mac}})
        expr.append({"fwd": {"dev": self.taps[port.id]}})
        self.chains[name] = [expr]
        return name

    def add_chain(self, chain: steering.Chain, ports: dict) -> None:
        if not self.local(chain):
            return
        last = len(chain.groups) - 1
        for reverse in ((False, True) if chain.symmetric else (False,)):
            for original in chain.classifiers:
                # what each group is entered by and left as (ppg_n_tuple_mapping); replies: mirrored
                intos, outs = steering.positions(chain, original)
                if reverse:
                    fc, entry = original.reversed(), outs[last].reversed()
                    after_group = [into.reversed() for into in intos]
                else:
                    fc, entry = original, intos[0]
                    after_group = [intos[i + 1] if i < last else outs[i] for i in range(last + 1)]
                v6 = fc.ethertype == "IPv6"
                expr = _classify(entry)
                if _classify(fc) is None or fc.source is None or fc.source.id not in self.taps:
                    continue
                if reverse and fc.destination is None:
                    continue
                # entering the chain: at the source port (on the way back: the destination port)
                tap = self.taps[fc.source.id]
                rules = self.devices.setdefault(tap, [])
                guard = _guard(ports[fc.source.id])
                rules.extend(g for g in guard if g not in rules)
                first = last if reverse else 0
                if expr is not None:
                    rules.append([*expr, self.counted(counter_classified(chain, fc, reverse)),
                                  self.next_step(chain, first, reverse, v6)])
                # coming back from each function: on to the next group, or into the bridge after the last —
                # recognised as the function leaves the flows (a mapping), into the next as it takes them in
                for index, group in enumerate(chain.groups):
                    if group.tap:
                        continue
                    after = index - 1 if reverse else index + 1
                    done = not 0 <= after < len(chain.groups)
                    verdict = [self.counted(counter_out(chain, reverse)), {"accept": None}] if done else \
                        [self.next_step(chain, after, reverse, v6)]
                    back = _classify(after_group[index])
                    if back is None:
                        continue
                    for pair in group.pairs:
                        port = pair.ingress if reverse else pair.egress
                        self.devices.setdefault(self.taps[port.id], []).append([*back, *verdict])

    def commands(self, sf_taps: dict[str, str], existing: dict) -> list[dict]:
        """The transaction: flush, drop every chain (all rebuilt), counters kept, the new ruleset added."""
        for tap, mac in sorted(sf_taps.items()):  # a function's non-IP frames that are not its own: dropped
            expr = [match(payload("ether", "saddr"), mac, "!=")]  # (a tap function's: all of them)
            if tap not in self.passive:
                expr.append(match(meta("protocol"), {"set": ["ip", "ip6"]}, "!="))
            self.devices.setdefault(tap, []).append([*expr, {"drop": None}])
        cmds = [{"add": {"table": {"family": FAMILY, "name": TABLE}}},
                {"flush": {"table": {"family": FAMILY, "name": TABLE}}}]
        cmds += [_cmd("delete", "chain", name=name) for name in existing.get("chains", [])]
        cmds += [_cmd("delete", "counter", name=name) for name in existing.get("counters", [])
                 if name not in self.counters]
        cmds += [_cmd("add", "counter", name=name) for name in sorted(self.counters)]
        cmds += [_cmd("add", "chain", name=name) for name in self.chains]
        for tap in self.devices:
            cmds.append(_cmd("add", "chain", name=f"dev-{tap}", type="filter", hook="ingress", dev=tap,
                             prio=0, policy="accept"))
        for name, rules in self.chains.items():
            cmds += [_rule(name, expr) for expr in rules]
        for tap, rules in self.devices.items():
            cmds += [_rule(f"dev-{tap}", expr) for expr in rules]
        return cmds


def listing(namespace: str) -> dict:
    """What the table holds now: chain and counter names, counter values (empty when there is no table)."""
    found = {"chains": [], "counters": [], "values": {}}
    for item in nft.query(namespace, {"list": {"table": {"family": FAMILY, "name": TABLE}}}):
        if "chain" in item:
            found["chains"].append(item["chain"]["name"])
        elif "counter" in item:
            found["counters"].append(item["counter"]["name"])
            found["values"][item["counter"]["name"]] = (item["counter"]["packets"], item["counter"]["bytes"])
    return found


def counters(namespace: str) -> dict[str, tuple[int, int]]:
    """Every steering counter in ``namespace``: name → (packets, bytes)."""
    return listing(namespace)["values"]


class Steering:
    """Converges one host namespace's steering; remembers what it applied so an unchanged pass costs a
    database read (in the transaction that reads the rest of the desired state) and nothing in the kernel,
    and a chain change one nft transaction. A tap re-plugged between two passes is caught by the agent's
    periodic full check (``forget``)."""

    def __init__(self, namespace: str):
        self.namespace = namespace
        self._applied: str | None = None
        self._isolated: tuple | None = None
        self._existing: dict | None = None  # the table's chains and counters as last applied

    def forget(self) -> None:
        self._applied, self._isolated, self._existing = None, None, None

    def converge(self, desired: Desired, plugged: dict[str, str]) -> None:
        if desired.steering is None:  # not readable this pass: leave the table as it is
            return
        chains, sf_ports = desired.steering  # read with the rest of the desired state
        taps = {pid: tap for pid, tap in plugged.items() if pid in desired.ports}
        sf_taps = {taps[pid]: desired.ports[pid].mac.lower() for pid in sf_ports if pid in taps}
        self._isolate(desired, taps, sf_taps)
        plan = Plan(taps)
        for chain in chains:
            plan.add_chain(chain, desired.ports)
        key = repr((plan.devices, plan.chains, sorted(sf_taps.items())))
        if key == self._applied:
            return
        self._applied = None
        existing = self._existing if self._existing is not None else listing(self.namespace)
        self._existing = None
        if not (plan.devices or sf_taps):
            if existing["chains"] or existing["counters"]:
                firewall.apply(self.namespace, [{"delete": {"table": {"family": FAMILY, "name": TABLE}}}])
            self._existing = {"chains": [], "counters": []}
        else:
            commands = plan.commands(sf_taps, existing)
            firewall.apply(self.namespace, commands)
            self._existing = {"chains": [*plan.chains, *(f"dev-{tap}" for tap in plan.devices)],
                              "counters": sorted(plan.counters)}
        self._applied = key

    def _isolate(self, desired: Desired, taps: dict[str, str], sf_taps: dict[str, str]) -> None:
        """Service-function taps: no learning, no flooding, a static FDB entry for their MAC; others: defaults."""
        macs = {tap: desired.ports[pid].mac.lower() for pid, tap in taps.items()}
        key = tuple(sorted((tap, tap in sf_taps) for tap in taps.values()))
        if key == self._isolated:
            return
        if not sf_taps and self._isolated is not None and not any(isolated for _, isolated in self._isolated):
            self._isolated = key  # no function ports before or now: new taps keep the kernel's defaults
            return
        proc = subprocess.run(["ip", "netns", "exec", self.namespace, "bridge", "-j", "-d", "link", "show"],
                              capture_output=True, text=True, timeout=30, check=False)
        links = {link["ifname"]: link for link in json.loads(proc.stdout or "[]")} if proc.returncode == 0 else {}
        proc = subprocess.run(["ip", "netns", "exec", self.namespace, "bridge", "-j", "fdb", "show"],
                              capture_output=True, text=True, timeout=30, check=False)
        fdb = json.loads(proc.stdout or "[]") if proc.returncode == 0 else []
        static = {(e.get("ifname"), (e.get("mac") or "").lower()) for e in fdb if e.get("state") == "static"}
        batch = []
        for tap, mac in sorted(macs.items()):
            link = links.get(tap)
            if link is None:
                continue
            isolated = tap in sf_taps
            want = "off" if isolated else "on"
            if any(link.get(flag) != (not isolated) for flag in FLAGS):
                batch.append(f"link set dev {tap} " + " ".join(f"{flag} {want}" for flag in FLAGS))
            if isolated and (tap, mac) not in static:
                batch.append(f"fdb replace {mac} dev {tap} master static")
            elif not isolated and (tap, mac) in static:
                batch.append(f"fdb del {mac} dev {tap} master")
        if batch:
            proc = subprocess.run(["ip", "netns", "exec", self.namespace, "bridge", "-batch", "-"],
                                  input="\n".join(batch) + "\n", capture_output=True, text=True, timeout=30,
                                  check=False)
            if proc.returncode != 0:
                log.warning("bridge port isolation in %s: %s", self.namespace, proc.stderr.strip()[:500])
                return
        self._isolated = key
