"""The steering model of networking-sfc resources: what path a flow takes, as the data plane implements it.

One model, two consumers: the network agent renders it into nftables (``kumo/network/agent/sfc.py``) and
``kumo sfc trace`` (``trace.py``) walks it for one flow. Pure Python over rows read in one pass (``read``).

- A flow from a chain's logical source port that matches one of its classifiers goes through each port
  pair group in order: into a pair's ingress port, out of its egress port; then on to its destination.
- Within a group a flow's pair is fixed by a hash of the group's ``lb_fields`` (the 5-tuple when none):
  the kernel's ``jhash`` (nft ``jhash``; each field zero-padded to 4 bytes, ``seed`` per group) into
  ``BUCKETS`` buckets, each bucket owned by one pair, pairs owning buckets in proportion to their weights.
  ``jhash`` here is the kernel's own (Bob Jenkins' lookup3), so the model predicts the data plane exactly.
- A symmetric chain sends replies (reversed classifier, at the logical destination port) back through the
  groups in reverse, hashing the mirrored fields (source ↔ destination): the same bytes, the same pair.
- A service function is *routing* (L3) when its ingress port has addresses: frames to it get their
  destination MAC rewritten to the port it is entered by; one without addresses is *transparent*
  (bump in the wire) and sees frames untouched.
- A group's ``ppg_n_tuple_mapping`` (networking-sfc's non-transparent functions, e.g. NAT) says how its
  functions rewrite a flow: what goes into the group must also match ``ingress_n_tuple``, what comes back out
  is recognised by the classifier with the ``egress_n_tuple`` fields in place of its own (``positions``);
  the rewrite carries on to every later group, and a symmetric chain's replies are the mirror image.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field, replace

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.network import ipam
from kumo.network.models import Port
from kumo.network.sfc.models import FlowClassifier, PortChain, PortPair, PortPairGroup

BUCKETS = 64  # hash buckets per group: weights are honoured to 1/64
DEFAULT_LB = ("ip_src", "ip_dst", "tcp_src", "tcp_dst")
# lb_fields → (nft payload protocol, field, bytes, mirrored lb field); tcp_*/udp_* read the transport header
LB = {"eth_src": ("ether", "saddr", 6, "eth_dst"), "eth_dst": ("ether", "daddr", 6, "eth_src"),
      "ip_src": ("ip", "saddr", 4, "ip_dst"), "ip_dst": ("ip", "daddr", 4, "ip_src"),
      "tcp_src": ("th", "sport", 2, "tcp_dst"), "tcp_dst": ("th", "dport", 2, "tcp_src"),
      "udp_src": ("th", "sport", 2, "udp_dst"), "udp_dst": ("th", "dport", 2, "udp_src")}
PORT_FIELD = {"tcp_src": "sport", "udp_src": "sport", "tcp_dst": "dport", "udp_dst": "dport"}
# ppg_n_tuple_mapping keys → Classifier fields; MIRROR: the same field seen from a reply
N_TUPLE = {"source_ip_prefix": "src_prefix", "destination_ip_prefix": "dst_prefix",
           "source_port_range_min": "sport", "source_port_range_max": "sport",
           "destination_port_range_min": "dport", "destination_port_range_max": "dport"}
MIRROR = {"src_prefix": "dst_prefix", "dst_prefix": "src_prefix", "sport": "dport", "dport": "sport"}


@dataclass(frozen=True)
class PortRef:
    id: str
    mac: str
    network_id: str
    addresses: tuple[str, ...]
    host: str | None


@dataclass
class Classifier:
    id: str
    name: str
    ethertype: str  # IPv4 | IPv6
    protocol: str | None
    sport: tuple[int | None, int | None]
    dport: tuple[int | None, int | None]
    src_prefix: str | None
    dst_prefix: str | None
    source: PortRef | None
    destination: PortRef | None
    also: tuple = ()  # further constraints, all must match: (field, prefix or (low, high)) — ingress_n_tuples
    pin_src: bool = True  # the source port's addresses are the source (false once a function rewrote it)
    pin_dst: bool = True  # the destination port's addresses are the destination (idem)

    def reversed(self) -> Classifier:
        """The replies of the flows this matches (a symmetric chain's way back)."""
        return Classifier(self.id, self.name, self.ethertype, self.protocol, self.dport, self.sport,
                          self.dst_prefix, self.src_prefix, self.destination, self.source,
                          tuple((MIRROR[f], v) for f, v in self.also), self.pin_dst, self.pin_src)

    def narrowed(self, n_tuple: dict) -> Classifier:
        """Also matching ``n_tuple`` (model fields, as ``Group.ingress``)."""
        return replace(self, also=self.also + tuple(n_tuple.items())) if n_tuple else self

    def mapped(self, n_tuple: dict) -> Classifier:
        """The flows after a function rewrote them into ``n_tuple``: its fields replace ours."""
        if not n_tuple:
            return self
        return replace(self, **n_tuple, also=tuple((f, v) for f, v in self.also if f not in n_tuple),
                       pin_src=self.pin_src and "src_prefix" not in n_tuple,
                       pin_dst=self.pin_dst and "dst_prefix" not in n_tuple)

    def constraints(self) -> list[tuple[str, object]]:
        """Every (field, value) a flow must meet, the destination port's addresses aside."""
        own = [("src_prefix", self.src_prefix), ("dst_prefix", self.dst_prefix), ("sport", self.sport),
               ("dport", self.dport)]
        return list(dict.fromkeys((f, v) for f, v in [*own, *self.also] if v is not None and v != (None, None)))

    def describe(self) -> str:
        """The tuple as text: ``tcp src 10.0.0.5/32 dport 80``."""
        words = [self.protocol or self.ethertype]
        for f, v in self.constraints():
            side = "src" if f in ("src_prefix", "sport") else "dst"
            if f.endswith("prefix"):
                words.append(f"{side} {v}")
            else:
                low, high = v
                low, high = low if low is not None else 0, high if high is not None else 65535
                words.append(f"{f} {low}" if low == high else f"{f} {low}-{high}")
        if self.pin_dst and self.destination is not None:
            words.append(f"dst port {self.destination.id[:8]}")
        return " ".join(words)


@dataclass
class Pair:
    id: str
    name: str
    ingress: PortRef
    egress: PortRef
    weight: int

    @property
    def routing(self) -> bool:
        return bool(self.ingress.addresses)


@dataclass
class Group:
    id: str
    name: str
    number: int  # group_id
    pairs: list[Pair]
    lb_fields: tuple[str, ...]
    tap: bool
    buckets: list[int] = field(default_factory=list)  # bucket → index into pairs
    ingress: dict = field(default_factory=dict)  # ppg_n_tuple_mapping, model fields: what goes in
    egress: dict = field(default_factory=dict)  # … and what comes back out (a tap group's: ignored)

    @property
    def seed(self) -> int:
        return int(hashlib.sha1(self.id.encode()).hexdigest()[:8], 16)

    def fields(self, reverse: bool = False) -> list[str]:
        return [LB[f][3] for f in self.lb_fields] if reverse else list(self.lb_fields)


@dataclass
class Chain:
    id: str
    name: str
    number: int  # chain_id
    groups: list[Group]
    classifiers: list[Classifier]
    symmetric: bool


# -- the kernel's jhash (include/linux/jhash.h), as nft_jhash uses it -------------------------------------

_M = 0xFFFFFFFF


def _rol(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _M


def jhash(key: bytes, initval: int) -> int:
    length = len(key)
    a = b = c = (0xDEADBEEF + length + initval) & _M
    while length > 12:
        a, b, c = ((a + int.from_bytes(key[0:4], "little")) & _M, (b + int.from_bytes(key[4:8], "little")) & _M,
                   (c + int.from_bytes(key[8:12], "little")) & _M)
        a = (a - c) & _M; a ^= _rol(c, 4); c = (c + b) & _M
        b = (b - a) & _M; b ^= _rol(a, 6); a = (a + c) & _M
        c = (c - b) & _M; c ^= _rol(b, 8); b = (b + a) & _M
        a = (a - c) & _M; a ^= _rol(c, 16); c = (c + b) & _M
        b = (b - a) & _M; b ^= _rol(a, 19); a = (a + c) & _M
        c = (c - b) & _M; c ^= _rol(b, 4); b = (b + a) & _M
        length -= 12
        key = key[12:]
    if length == 0:
        return c
    tail = key + b"\0" * (12 - length)
    a = (a + int.from_bytes(tail[0:4], "little")) & _M
    b = (b + int.from_bytes(tail[4:8], "little")) & _M
    c = (c + int.from_bytes(tail[8:12], "little")) & _M
    c ^= b; c = (c - _rol(b, 14)) & _M
    a ^= c; a = (a - _rol(c, 11)) & _M
    b ^= a; b = (b - _rol(a, 25)) & _M
    c ^= b; c = (c - _rol(b, 16)) & _M
    a ^= c; a = (a - _rol(c, 4)) & _M
    b ^= a; b = (b - _rol(a, 14)) & _M
    c ^= b; c = (c - _rol(b, 24)) & _M
    return c


def bucket_of(key: bytes, seed: int) -> int:
    return (jhash(key, seed) * BUCKETS) >> 32  # reciprocal_scale


def assign(pairs: list[Pair]) -> list[int]:
    """Bucket → pair index: quotas in proportion to the weights (largest remainder), each bucket to the pair
    ranking it highest among those with quota left (rendezvous order), so adding a pair moves few buckets."""
    if len(pairs) < 2:
        return [0] * BUCKETS if pairs else []
    weights = [max(p.weight, 0) for p in pairs]
    if not sum(weights):
        weights = [1] * len(pairs)
    total = sum(weights)
    exact = [BUCKETS * w / total for w in weights]
    quota = [int(e) for e in exact]
    for i in sorted(range(len(pairs)), key=lambda i: (quota[i] - exact[i], pairs[i].id))[:BUCKETS - sum(quota)]:
        quota[i] += 1
    owners = []
    for b in range(BUCKETS):
        ranked = sorted(range(len(pairs)), key=lambda i: hashlib.sha1(f"{pairs[i].id}/{b}".encode()).digest(),
                        reverse=True)
        i = next(i for i in ranked if quota[i] > 0)
        quota[i] -= 1
        owners.append(i)
    return owners


# -- reading ------------------------------------------------------------------------------------------------

def n_tuple(given: dict | None) -> dict:
    """A ppg_n_tuple_mapping side in model fields: prefixes as given, port ranges as (low, high)."""
    result = {}
    for key, value in (given or {}).items():
        name = N_TUPLE.get(key)
        if name is None or value is None:
            continue
        if name.endswith("prefix"):
            result[name] = value
        else:
            low, high = result.get(name, (None, None))
            result[name] = (int(value), high) if key.endswith("_min") else (low, int(value))
    return result


def positions(chain: Chain, fc: Classifier) -> tuple[list[Classifier], list[Classifier]]:
    """For each group in order, what ``fc``'s flows are steered into it by and what they come back out as.

    Into a group: the flows as the previous one left them, narrowed by its ``ingress_n_tuple`` (not after a
    tap group: nothing is classified there); out of it: the same with its ``egress_n_tuple`` fields in
    place. Replies (symmetric chains) are the mirror images: into group i as ``outs[i].reversed()``,
    out of it as ``intos[i].reversed()``."""
    intos, outs, current = [], [], fc
    for index, group in enumerate(chain.groups):
        entered = index == 0 or not chain.groups[index - 1].tap
        into = current.narrowed(group.ingress) if entered else current
        out = into if group.tap else into.mapped(group.egress)
        intos.append(into)
        outs.append(out)
        current = out
    return intos, outs


def read(db: Session) -> list[Chain]:
    """Every port chain with its groups, pairs and classifiers resolved to ports (MACs, addresses, hosts)."""
    chains = list(db.scalars(sa.select(PortChain).order_by(PortChain.chain_id)))
    if not chains:
        return []
    groups = {g.id: g for g in db.scalars(sa.select(PortPairGroup))}
    pairs = {p.id: p for p in db.scalars(sa.select(PortPair))}
    fcs = {f.id: f for f in db.scalars(sa.select(FlowClassifier))}
    port_ids = {pid for p in pairs.values() for pid in (p.ingress, p.egress)}
    port_ids |= {pid for f in fcs.values() for pid in (f.logical_source_port, f.logical_destination_port) if pid}
    rows = {p.id: p for p in db.scalars(sa.select(Port).where(Port.id.in_(sorted(port_ids))))} if port_ids else {}
    ips = ipam.fixed_ips_by_port(db, sorted(rows))
    refs = {pid: PortRef(pid, p.mac_address.lower(), p.network_id, tuple(a["ip_address"] for a in ips[pid]),
                         p.binding_host_id) for pid, p in rows.items()}
    result = []
    for pc in chains:
        chain_groups = []
        for pg_id in pc.port_pair_groups or []:
            pg = groups.get(pg_id)
            if pg is None:
                continue
            members = []
            for pp_id in pg.port_pairs or []:
                pp = pairs.get(pp_id)
                if pp is not None and pp.ingress in refs and pp.egress in refs:
                    weight = int((pp.service_function_parameters or {}).get("weight", 1) or 0)
                    members.append(Pair(pp.id, pp.name, refs[pp.ingress], refs[pp.egress], weight))
            params = pg.port_pair_group_parameters or {}
            lb = tuple(dict.fromkeys(params.get("lb_fields") or DEFAULT_LB))
            mapping = params.get("ppg_n_tuple_mapping") or {}
            group = Group(pg.id, pg.name, pg.group_id, members, lb, bool(pg.tap_enabled),
                          ingress=n_tuple(mapping.get("ingress_n_tuple")),
                          egress=n_tuple(mapping.get("egress_n_tuple")))
            group.buckets = assign(members)
            chain_groups.append(group)
        classifiers = []
        for fc_id in pc.flow_classifiers or []:
            fc = fcs.get(fc_id)
            if fc is None:
                continue
            classifiers.append(Classifier(
                fc.id, fc.name, fc.ethertype or "IPv4", fc.protocol,
                (fc.source_port_range_min, fc.source_port_range_max),
                (fc.destination_port_range_min, fc.destination_port_range_max),
                fc.source_ip_prefix, fc.destination_ip_prefix,
                refs.get(fc.logical_source_port), refs.get(fc.logical_destination_port)))
        result.append(Chain(pc.id, pc.name, pc.chain_id, chain_groups, classifiers,
                            bool((pc.chain_parameters or {}).get("symmetric"))))
    return result


# -- one flow ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Flow:
    protocol: str  # tcp | udp | icmp
    src: str
    sport: int | None
    dst: str
    dport: int | None
    src_mac: str | None = None
    dst_mac: str | None = None
    unknown: frozenset = frozenset()  # fields (src, sport, dst, dport) a function rewrote into a wider range

    def rewritten(self, n_tuple: dict) -> Flow:
        """The flow after a function rewrote it into ``n_tuple`` (a /32 or a single port: exactly known)."""
        values, unknown = {}, set(self.unknown)
        for name, value in n_tuple.items():
            side = "src" if name in ("src_prefix", "sport") else "dst"
            if name.endswith("prefix"):
                net = ipaddress.ip_network(value, strict=False)
                values[side] = str(net.network_address)
                exact = net.num_addresses == 1
                key = side
            else:
                low, high = value
                values[name] = low if low is not None else high
                exact = low is not None and low == high
                key = name
            (unknown.discard if exact else unknown.add)(key)
        return replace(self, **values, unknown=frozenset(unknown))

    def mirrored(self) -> Flow:
        swap = {"src": "dst", "dst": "src", "sport": "dport", "dport": "sport"}
        return Flow(self.protocol, self.dst, self.dport, self.src, self.sport, self.dst_mac, self.src_mac,
                    frozenset(swap[f] for f in self.unknown))


def _in_range(value, bounds) -> bool:
    low, high = bounds
    if low is None and high is None:
        return True
    if value is None:
        return False
    return (low if low is not None else 0) <= value <= (high if high is not None else 65535)


def _in_prefix(address: str, prefix: str | None) -> bool:
    return prefix is None or ipaddress.ip_address(address) in ipaddress.ip_network(prefix, strict=False)


def matches(fc: Classifier, flow: Flow) -> bool:
    """Does ``flow`` match ``fc``? (Its source port is where it is sent from; a field a function rewrote into a
    range the model cannot pin down is taken to match.)"""
    version = ipaddress.ip_address(flow.src).version
    if version != (6 if fc.ethertype == "IPv6" else 4):
        return False
    if fc.protocol and fc.protocol != flow.protocol:
        return False
    values = {"src_prefix": ("src", flow.src), "dst_prefix": ("dst", flow.dst), "sport": ("sport", flow.sport),
              "dport": ("dport", flow.dport)}
    for name, bound in fc.constraints():
        key, value = values[name]
        if key in flow.unknown:
            continue
        if not (_in_prefix(value, bound) if name.endswith("prefix") else _in_range(value, bound)):
            return False
    return not fc.pin_dst or fc.destination is None or "dst" in flow.unknown or flow.dst in fc.destination.addresses


def hash_key(fields: list[str], flow: Flow) -> bytes | None:
    """The bytes nft's jhash reads for ``fields`` of ``flow`` (each zero-padded to 4 bytes); None if unknown."""
    key = b""
    for name in fields:
        protocol = LB[name][0]
        if protocol == "ether":
            mac = flow.src_mac if name == "eth_src" else flow.dst_mac
            if mac is None:
                return None
            raw = bytes.fromhex(mac.replace(":", ""))
        elif protocol == "ip":
            if ("src" if name == "ip_src" else "dst") in flow.unknown:
                return None
            raw = ipaddress.ip_address(flow.src if name == "ip_src" else flow.dst).packed
        else:
            if PORT_FIELD[name] in flow.unknown:
                return None
            value = flow.sport if PORT_FIELD[name] == "sport" else flow.dport
            raw = (value or 0).to_bytes(2, "big")
        key += raw + b"\0" * (-len(raw) % 4)
    return key


def choose(group: Group, flow: Flow, reverse: bool = False) -> tuple[Pair | None, int | None]:
    """The pair ``flow`` goes through in ``group`` and its bucket (None when the model can't tell)."""
    if not group.pairs:
        return None, None
    if len(group.pairs) == 1:
        return group.pairs[0], None
    key = hash_key(group.fields(reverse), flow)
    if key is None:
        return None, None
    bucket = bucket_of(key, group.seed)
    return group.pairs[group.buckets[bucket]], bucket


@dataclass
class Hop:
    group: Group
    pair: Pair | None
    bucket: int | None
    reverse: bool = False
    into: Classifier | None = None  # what the flow is steered into the group by
    out: Classifier | None = None  # what it is recognised by coming back out
    flow_out: Flow | None = None  # the flow as it leaves the group (a mapping rewrites it)


@dataclass
class Path:
    flow: Flow
    chain: Chain | None = None
    classifier: Classifier | None = None
    hops: list[Hop] = field(default_factory=list)
    reply_hops: list[Hop] = field(default_factory=list)
    left: bool = False  # the flow left the chain early: it did not match a group's ingress_n_tuple
    reply_left: bool = False


def trace(chains: list[Chain], source_port_id: str, flow: Flow) -> Path:
    """The path the model gives ``flow`` sent from ``source_port_id``: the first matching classifier wins."""
    for chain in chains:
        for fc in chain.classifiers:
            if fc.source is None or fc.source.id != source_port_id or not matches(fc, flow):
                continue
            intos, outs = positions(chain, fc)
            if chain.groups and not matches(intos[0], flow):
                continue  # not what the first group takes in: not this classifier's
            path, current, entering = Path(flow, chain, fc), flow, []
            for index, group in enumerate(chain.groups):
                if not matches(intos[index], current):
                    path.left = True  # falls out into the bridge, on to its destination
                    break
                entering.append(current)
                pair, bucket = choose(group, current)
                after = current if group.tap else current.rewritten(group.egress)
                path.hops.append(Hop(group, pair, bucket, into=intos[index], out=outs[index], flow_out=after))
                current = after
            if chain.symmetric and fc.destination is not None and not path.left:
                reply = current.mirrored()
                for index in reversed(range(len(chain.groups))):
                    group = chain.groups[index]
                    into, out = outs[index].reversed(), intos[index].reversed()
                    if not matches(into, reply):
                        path.reply_left = True
                        break
                    pair, bucket = choose(group, reply, reverse=True)
                    after = entering[index].mirrored()  # the function undoes its rewrite on the way back
                    path.reply_hops.append(Hop(group, pair, bucket, True, into, out, after))
                    reply = after
            return path
    return Path(flow)


# -- the data plane's counters, named after the model ---------------------------------------------------------

def counter_classified(chain: Chain, fc: Classifier, reverse: bool = False) -> str:
    return f"c{chain.number}-{'r' if reverse else 'f'}c-{fc.id[:8]}"


def counter_hop(chain: Chain, index: int, pair: Pair, reverse: bool = False) -> str:
    return f"c{chain.number}-{'r' if reverse else 'f'}{index}-{pair.id[:8]}"


def counter_out(chain: Chain, reverse: bool = False) -> str:
    return f"c{chain.number}-{'r' if reverse else 'f'}-out"
