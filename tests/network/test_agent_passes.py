"""The agent's passes stay cheap: an unchanged pass runs no command and changes no link, yet what breaks
between passes (a link removed behind the agent's back) and what changes in the API are still applied."""

from __future__ import annotations

import subprocess
import uuid

import sqlalchemy as sa

from .plane import NEEDS_ROOT

pytestmark = NEEDS_ROOT


def test_link_dump_reads_what_pyroute2_reads():
    from pyroute2 import IPRoute

    from kumo.network.agent import plumbing
    ns = f"kap-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for argv in (["link", "add", "kapbr", "type", "bridge"], ["link", "add", "kapv0", "type", "veth", "peer",
                                                                   "name", "kapv1"],
                     ["link", "set", "kapv0", "master", "kapbr", "mtu", "1400", "up"]):
            subprocess.run(["ip", "-n", ns, *argv], check=True)
        with plumbing.netlink(ns, remember=True) as ip:
            fast = plumbing.links(ip)
            with IPRoute(netns=ns) as slow:
                assert fast == plumbing._links(slow)
            assert fast["kapv0"]["master"] == fast["kapbr"]["index"] and fast["kapv0"]["mtu"] == 1400
            assert fast["kapv0"]["kind"] == "veth" and fast["kapv0"]["up"] and not fast["kapv1"]["up"]
            ip.link("del", index=fast["kapv0"]["index"])  # a change through the socket: read anew
            assert "kapv0" not in plumbing.links(ip) and "kapv1" not in plumbing.links(ip)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def test_unchanged_pass_runs_nothing_but_breakage_and_changes_are_applied(plane, monkeypatch):
    from kumo.network import routers
    from kumo.network.agent import l3, names
    from kumo.network.models import Router
    net_a, sub_a = plane.network("10.81.0.0/24")
    net_b, sub_b = plane.network("10.82.0.0/24")
    group = plane.group("open")
    plane.rule(group, direction="ingress", protocol="icmp")
    a, b = plane.instance(net_a, [group]), plane.instance(net_b, [group])
    router_id, _ = plane.router(sub_a, sub_b)
    plane.reconcile()
    plane.reconcile()
    assert a.reaches(b.ip)

    calls, real_run = [], subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda *args, **kw: calls.append(args[0]) or real_run(*args, **kw))
    assert plane.reconcile() == {a.port_id: "ACTIVE", b.port_id: "ACTIVE"}
    assert calls == []  # no nft, no ip, no dnsmasq: nothing changed
    monkeypatch.setattr(subprocess, "run", real_run)

    # behind the agent's back: an instance's veth and a router interface go; the next pass makes them anew
    host = plane.agent.namespace
    qr = l3.host_link("qr", _router_ports(plane, router_id)[0])
    subprocess.run(["ip", "-n", host, "link", "del", names.tap(a.port_id)], check=True)
    subprocess.run(["ip", "-n", host, "link", "del", qr], check=True)
    plane.reconcile()
    assert a.reaches(b.ip) and b.reaches(a.ip)

    # a change in the API reaches the kernel at once, though the router was applied before
    with plane.db.session() as db:
        routers.set_routes(db, db.get(Router, router_id), [{"destination": "10.99.0.0/24", "nexthop": b.ip}])
    plane.reconcile()
    shown = subprocess.run(["ip", "-n", l3.namespace(host, router_id), "route", "show", "10.99.0.0/24"],
                           capture_output=True, text=True, check=True).stdout
    assert f"via {b.ip}" in shown


def _router_ports(p, router_id: str) -> list[str]:
    import sqlalchemy as sa

    from kumo.network.models import Port
    with p.db.session(write=False) as db:
        return list(db.scalars(sa.select(Port.id).where(Port.device_id == router_id)))


def _kernel_firewall(namespace: str) -> dict:
    """Both ``kumo`` tables as the kernel holds them, comparable whatever order they were built in."""
    from kumo.network.agent import nft
    found: dict = {}
    for family in ("inet", "bridge"):
        for item in nft.query(namespace, {"list": {"table": {"family": family, "name": "kumo"}}}):
            (kind, spec), = item.items()
            spec = {k: v for k, v in spec.items() if k != "handle"}
            if kind == "rule":
                found.setdefault(f"{family} rules {spec['chain']}", []).append(repr(spec["expr"]))
            else:
                if "elem" in spec:
                    spec["elem"] = sorted(repr(e) for e in spec["elem"])
                found[f"{family} {kind} {spec['name']}"] = spec
    return found


def _nft_calls(monkeypatch) -> list[list[dict]]:
    from kumo.network.agent import nft
    calls, real = [], nft.run
    monkeypatch.setattr(nft, "run", lambda ns, cmds: calls.append(cmds) or real(ns, cmds))
    return calls


def test_incremental_firewall_equals_a_full_resync(plane, monkeypatch):
    """After each kind of change the incremental pass leaves the kernel exactly as the whole ruleset (the
    start-up and after-a-crash path) would, without reading every member again; and packets follow."""
    net, _ = plane.network("10.83.0.0/24")
    other, _ = plane.network("10.84.0.0/24")
    default, web, quiet = plane.default_group(), plane.group("web"), plane.group("quiet")
    plane.rule(web, direction="ingress", protocol="tcp", port_range_min=80, port_range_max=80)
    plane.rule(quiet, direction="ingress", protocol="icmp")  # and no egress rule at all
    a, b = plane.instance(net, [default]), plane.instance(net, [default, web])
    d = plane.instance(net, [quiet])
    plane.reconcile()
    calls = _nft_calls(monkeypatch)

    def check(what: str) -> None:
        scanned, before = plane.agent.members.scanned, len(calls)
        plane.reconcile()
        assert plane.agent.members.scanned == scanned, f"{what}: the members were read whole"
        assert all("table" not in next(iter(c.values())) for cmds in calls[before:] for c in cmds), what
        incremental = _kernel_firewall(plane.agent.namespace)
        plane.agent._firewall = None
        plane.agent.members.reset()
        plane.reconcile()
        assert _kernel_firewall(plane.agent.namespace) == incremental, what

    check("nothing changed")
    rule = plane.rule(web, direction="ingress", protocol="tcp", port_range_min=8080, port_range_max=8080,
                      remote_group_id=default)
    check("a rule added")
    c = plane.instance(net, [default])
    check("a port plugged")
    assert c.reaches(a.ip) and c.reaches(d.ip)  # default: members may come in; quiet: ICMP may come in
    assert d.blocked(a.ip)  # quiet has no egress rule: nothing leaves d (but replies to what came in)
    plane.instance(other, [default], host="elsewhere", allowed_address_pairs=[{"ip_address": "10.84.5.0/28"}])
    check("a member on another host, with a prefix")
    plane.delete_rule(rule)
    check("a rule deleted")
    with plane.db.session() as db:
        from kumo.network import ports
        from kumo.network.models import Port
        ports.update(db, plane.ctx, db.get(Port, b.port_id), {"security_groups": [web]})
    check("a port's groups changed")
    assert b.blocked(a.ip) and a.reaches(c.ip)
    plane.delete_port(a.port_id)
    check("a port deleted")


def test_a_pass_reads_and_applies_only_what_changed(plane, monkeypatch):
    """With many members in the default group (unbound ports, on no host), a pass that finds nothing changed
    runs no nft at all, and a new port or a new rule is only added to the kernel (no flush, no deletion:
    nothing that waits for the kernel's grace period), with no member read whole."""
    from kumo.network import ports
    from kumo.network.models import Network
    net, _ = plane.network("10.85.0.0/24")
    crowd, _ = plane.network("10.86.0.0/22")
    default = plane.default_group()
    a = plane.instance(net, [default])
    with plane.db.session() as db:
        network = db.get(Network, crowd)
        for i in range(300):
            ports.create(db, plane.ctx, network, project_id=plane.project, name=f"crowd-{i}")
    plane.reconcile()
    calls = _nft_calls(monkeypatch)
    plane.reconcile()
    assert calls == []
    scanned = plane.agent.members.scanned
    b = plane.instance(net, [default])
    plane.reconcile()
    plane.rule(default, direction="ingress", protocol="tcp", port_range_min=22, port_range_max=22)
    plane.reconcile()
    assert plane.agent.members.scanned == scanned
    verbs = [next(iter(c)) for cmds in calls for c in cmds]
    assert set(verbs) == {"add"}, verbs
    added = [c["add"]["element"] for cmds in calls for c in cmds if "element" in c["add"]]
    assert any(e["name"].startswith("h4-") and e["elem"] == [b.ip] for e in added), added
    assert b.reaches(a.ip) and a.reaches(b.ip)


def test_commits_cost_a_pass_only_when_they_matter_here(plane, monkeypatch):
    """A commit wakes the agent for a whole pass only when it touches what this host serves; an unbound port in
    a group that a rule here names costs a members refresh (no state read), which still reaches the kernel's
    set; networks without a port here, unbound ports of other groups and renames cost nothing."""
    from kumo.network import networks, ports
    from kumo.network.agent import state, wake
    from kumo.network.models import IPAllocation, Network, Port
    net, _ = plane.network("10.85.0.0/24")
    far, _ = plane.network("10.86.0.0/24")
    default, lone = plane.default_group(), plane.group("lone")
    a = plane.instance(net, [default])  # default's rules name default: its members matter here
    plane.agent.run()
    verdicts = []
    wake.register(plane.db, lambda change: verdicts.append(plane.agent.wants(change)))
    reads, real_read = [], state.read
    monkeypatch.setattr(state, "read", lambda *args, **kw: reads.append(1) or real_read(*args, **kw))

    def unbound(network_id, groups, name=""):
        with plane.db.session() as db:
            return ports.create(db, plane.ctx, db.get(Network, network_id), project_id=plane.project, name=name,
                                security_groups_ids=groups).id

    with plane.db.session() as db:
        networks.create(db, project_id=plane.project, name="nothing-here")
    quiet = unbound(far, [lone])
    with plane.db.session() as db:
        ports.update(db, plane.ctx, db.get(Port, quiet), {"name": "renamed"})
    with plane.db.session() as db:
        networks.update(db, db.get(Network, net), {"name": "renamed", "description": "served, but only named"})
    assert not any(verdicts), verdicts
    assert plane.agent._full is False and plane.agent._refresh is False

    member = unbound(far, [default])  # elsewhere, but a member of a group applied here
    assert verdicts[-1] and plane.agent._refresh and not plane.agent._full
    plane.agent.run()
    assert reads == []  # members only
    with plane.db.session(write=False) as db:
        address = db.scalar(sa.select(IPAllocation.ip_address).where(IPAllocation.port_id == member))
    ruleset = subprocess.run(["ip", "netns", "exec", plane.agent.namespace, "nft", "list", "ruleset"],
                             capture_output=True, text=True, check=True).stdout
    assert address in ruleset
    incremental = _kernel_firewall(plane.agent.namespace)
    plane.agent._firewall = None
    plane.agent.members.reset()
    plane.reconcile()
    assert _kernel_firewall(plane.agent.namespace) == incremental  # as a whole resync leaves it
    reads.clear()

    unbound(net, [lone])  # on a network served here: DHCP hosts change
    assert verdicts[-1] and plane.agent._full
    plane.agent.run()
    assert len(reads) == 1
    plane.delete_port(member)  # its address leaves the set
    assert verdicts[-1]
    plane.agent.run()
    ruleset = subprocess.run(["ip", "netns", "exec", plane.agent.namespace, "nft", "list", "ruleset"],
                             capture_output=True, text=True, check=True).stdout
    assert address not in ruleset and a.ip in ruleset
