"""``kumo sfc trace``: the hops one flow takes through the port chains, as the steering model
(``steering.py``) implies them, and — live — confirmed from the data plane's nft counters."""

from __future__ import annotations

import ipaddress

from sqlalchemy.orm import Session

from kumo.network.models import Port
from kumo.network.sfc import steering


def endpoint(text: str) -> tuple[str, int | None]:
    """``10.0.0.5:80``, ``10.0.0.5``, ``[fd00::5]:80`` or ``fd00::5`` → (address, port)."""
    if text.startswith("["):
        address, _, rest = text[1:].partition("]")
        return str(ipaddress.ip_address(address)), int(rest[1:]) if rest.startswith(":") else None
    if text.count(":") == 1:
        address, port = text.split(":")
        return str(ipaddress.ip_address(address)), int(port)
    return str(ipaddress.ip_address(text)), None


def _hop(chain: steering.Chain, index: int, hop: steering.Hop) -> dict:
    group, pair = hop.group, hop.pair
    entry = {"group": group.id, "group_name": group.name, "group_id": group.number,
             "lb_fields": group.fields(hop.reverse), "pairs": len(group.pairs), "bucket": hop.bucket,
             "pair": pair.id if pair else None, "pair_name": pair.name if pair else None}
    if pair is not None:
        into, out = (pair.egress, pair.ingress) if hop.reverse else (pair.ingress, pair.egress)
        mode = "tap" if group.tap else "routing" if pair.routing else "transparent"
        entry.update(into=into.id, out=out.id, mode=mode,
                     rewrite_mac=into.mac if pair.routing and not group.tap else None,
                     counter=steering.counter_hop(chain, index, pair, hop.reverse))
    entry["mapping"] = bool(group.ingress or group.egress) and not group.tap
    entry["enters_as"] = hop.into.describe() if hop.into else None
    entry["leaves_as"] = hop.out.describe() if hop.out else None
    if hop.flow_out is not None:
        f = hop.flow_out
        entry["flow_out"] = {"src": None if "src" in f.unknown else f.src,
                             "sport": None if "sport" in f.unknown else f.sport,
                             "dst": None if "dst" in f.unknown else f.dst,
                             "dport": None if "dport" in f.unknown else f.dport}
    return entry


def explain(db: Session, source_port_id: str, flow: steering.Flow) -> dict:
    """What the model does with ``flow`` from ``source_port_id``, as plain data (``render`` prints it)."""
    chains = steering.read(db)
    source = db.get(Port, source_port_id)
    if source is None:
        raise LookupError(f"no port {source_port_id}")
    destination = next((fc.destination for c in chains for fc in c.classifiers
                        if fc.destination is not None and flow.dst in fc.destination.addresses), None)
    flow = steering.Flow(flow.protocol, flow.src, flow.sport, flow.dst, flow.dport, source.mac_address.lower(),
                         destination.mac if destination else None)
    path = steering.trace(chains, source_port_id, flow)
    report = {"flow": {"protocol": flow.protocol, "src": flow.src, "sport": flow.sport, "dst": flow.dst,
                       "dport": flow.dport}, "source_port": source_port_id, "chain": None, "hops": [],
              "reply_hops": [], "destination": destination.id if destination else None}
    if path.chain is None:
        return report
    chain, fc = path.chain, path.classifier
    report["chain"] = {"id": chain.id, "name": chain.name, "chain_id": chain.number, "symmetric": chain.symmetric}
    report["classifier"] = {"id": fc.id, "name": fc.name, "counter": steering.counter_classified(chain, fc)}
    report["hops"] = [_hop(chain, i, hop) for i, hop in enumerate(path.hops)]
    report["left_chain"] = path.left
    report["delivered_counter"] = steering.counter_out(chain)
    if path.reply_hops:
        last = len(chain.groups) - 1
        report["reply_classifier_counter"] = steering.counter_classified(chain, fc.reversed(), reverse=True)
        report["reply_hops"] = [_hop(chain, last - i, hop) for i, hop in enumerate(path.reply_hops)]
        report["reply_delivered_counter"] = steering.counter_out(chain, reverse=True)
        report["reply_left_chain"] = path.reply_left
    return report


def confirm(report: dict, values: dict[str, tuple[int, int]]) -> None:
    """Attach the data plane's counters (name → (packets, bytes)) to each step of ``report``: ``live`` is
    the packets counted there, None when the data plane has no such counter (the agent has not steered it)."""
    def look(name):
        return values[name][0] if name in values else None

    if report.get("classifier"):
        report["classifier"]["live"] = look(report["classifier"]["counter"])
        report["delivered_live"] = look(report["delivered_counter"])
    for hop in report["hops"] + report["reply_hops"]:
        if hop.get("counter"):
            hop["live"] = look(hop["counter"])
    if report.get("reply_hops"):
        report["reply_classifier_live"] = look(report["reply_classifier_counter"])
        report["reply_delivered_live"] = look(report["reply_delivered_counter"])
    steps = [report.get("classifier", {}).get("live")] + [h.get("live") for h in report["hops"]]
    report["confirmed"] = bool(report.get("classifier")) and all(v is not None and v > 0 for v in steps)


def render(report: dict) -> str:
    f = report["flow"]
    def ports(p) -> str:
        return f":{p}" if p is not None else ""

    lines = [(f"flow {f['protocol']} {f['src']}{ports(f['sport'])} -> {f['dst']}{ports(f['dport'])}"
              f" from port {report['source_port']}")]

    def live(value) -> str:
        if "confirmed" not in report:
            return ""
        return "  [live: not in the data plane]" if value is None else f"  [live: {value} packets]"

    if report["chain"] is None:
        lines.append("  no classifier steering.matches: direct (normal switching and routing)")
        return "\n".join(lines)
    c, fc = report["chain"], report["classifier"]
    lines.append(f"  classifier {fc['id']} ({fc['name'] or '-'}) of port chain {c['id']} ({c['name'] or '-'}),"
                 f" chain_id {c['chain_id']}{', symmetric' if c['symmetric'] else ''}{live(fc.get('live'))}")

    def hops(entries, title):
        for n, hop in enumerate(entries, 1):
            how = "only pair" if hop["bucket"] is None and hop["pairs"] == 1 else \
                "model cannot tell (a field it does not know)" if hop["bucket"] is None else \
                f"bucket {hop['bucket']}/{steering.BUCKETS} of steering.jhash({', '.join(hop['lb_fields'])})"
            lines.append(f"  {title} {n}: group {hop['group']} ({hop['group_name'] or '-'}) -> pair {hop['pair']}"
                         f" ({hop['pair_name'] or '-'}), {how}{live(hop.get('live'))}")
            if hop["pair"]:
                rewrite = f", destination MAC rewritten to {hop['rewrite_mac']}" if hop["rewrite_mac"] else ""
                lines.append(f"      {hop['mode']}: into port {hop['into']}, back from port {hop['out']}{rewrite}")
            if hop.get("mapping"):
                out = hop.get("flow_out") or {}
                shown = " ".join(f"{k} {'?' if v is None else v}" for k, v in out.items())
                lines.append(f"      n-tuple mapping: enters as {hop['enters_as']}; leaves as {hop['leaves_as']}"
                             f" (flow now {shown})")

    hops(report["hops"], "hop")
    if report.get("left_chain"):
        lines.append("  then: leaves the chain (not what the next group's ingress_n_tuple takes), on to its"
                     " destination through the bridge")
        return "\n".join(lines)
    lines.append(f"  then: delivered to {f['dst']} through the bridge{live(report.get('delivered_live'))}")
    if report["reply_hops"]:
        lines.append(f"  replies (symmetric){live(report.get('reply_classifier_live'))}:")
        hops(report["reply_hops"], "back")
        lines.append(f"  then: delivered to {f['src']}{live(report.get('reply_delivered_live'))}")
    if "confirmed" in report:
        lines.append("  live: " + ("confirmed, every step has counted packets" if report["confirmed"]
                                   else "NOT confirmed (a step has no counter or no packets yet)"))
    return "\n".join(lines)
