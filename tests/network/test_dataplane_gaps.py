"""Data-plane gaps closed, with real packets: the firewall fails closed, stale extra routes go.

Uses the harness of ``test_dataplane.py`` (a database, an agent, namespaces as instances; each test its
own data dir, everything removed at teardown, also after a failure).
"""

from __future__ import annotations

import subprocess

from .plane import NEEDS_ROOT

pytestmark = NEEDS_ROOT



def test_firewall_failure_fails_closed(plane, monkeypatch):
    """When the ruleset cannot be applied, ports with port security are cut off and not ACTIVE (a lockdown
    ruleset, or when even that fails, their links down); a port without port security keeps working; once
    rules apply again, everything is back as the API says."""
    from kumo.network.agent import firewall
    net, _ = plane.network("10.75.0.0/24")
    group = plane.group("open")
    icmp = plane.rule(group, direction="ingress", protocol="icmp")
    a, b = plane.instance(net, [group]), plane.instance(net, [group])
    free = plane.instance(net, [], port_security_enabled=False)
    assert plane.reconcile() == {a.port_id: "ACTIVE", b.port_id: "ACTIVE", free.port_id: "ACTIVE"}
    assert a.reaches(b.ip)

    # 1. nft rejects the ruleset (a jump to a chain that does not exist), as a bug or a kernel limit would
    real = firewall.commands

    def broken(applied, want):  # refused as a change and as the whole ruleset
        return real(applied, want) + [firewall._rule("inet", "forward", [{"jump": {"target": "missing"}}])]

    monkeypatch.setattr(firewall, "commands", broken)
    plane.delete_rule(icmp)  # the change that cannot be applied must not leave the old, wider rules in force
    late = plane.instance(net, [group])  # nor may a port plugged meanwhile be open
    assert plane.reconcile() == {a.port_id: "DOWN", b.port_id: "DOWN", late.port_id: "DOWN",
                                 free.port_id: "ACTIVE"}
    assert plane.status(a.port_id) == "DOWN" and plane.status(free.port_id) == "ACTIVE"
    assert plane.agent.pending  # it tries again soon
    assert a.blocked(b.ip) and late.blocked(b.ip) and free.blocked(a.ip) and a.blocked(free.ip)

    # 2. nft fails altogether: the ports' links are held down, and stay down however often the agent passes
    def failing(namespace, commands):
        raise firewall.FirewallError("nft is gone")

    monkeypatch.setattr(firewall, "apply", failing)
    plane.agent._firewall = None
    assert plane.reconcile()[a.port_id] == "DOWN"
    assert plane.reconcile()[late.port_id] == "DOWN"
    down = subprocess.run(["ip", "-n", plane.agent.namespace, "-o", "link", "show"], capture_output=True,
                          text=True, check=True).stdout
    from kumo.network.agent import names
    for inst in (a, b, late):
        line = next(x for x in down.splitlines() if f" {names.tap(inst.port_id)}@" in x)
        assert "state DOWN" in line or ",UP" not in line.split(">")[0], line
    assert a.blocked(b.ip)

    # 3. nft works again: the ports come back, with the rules as they are now (ICMP no longer allowed)
    monkeypatch.undo()
    assert plane.reconcile() == {a.port_id: "ACTIVE", b.port_id: "ACTIVE", late.port_id: "ACTIVE",
                                 free.port_id: "ACTIVE"}
    assert a.blocked(b.ip)
    plane.rule(group, direction="ingress", protocol="icmp")
    plane.reconcile()
    assert a.reaches(b.ip) and late.reaches(a.ip) and free.reaches(late.ip)


def test_extra_routes_follow_the_api(plane):
    """A router's extra routes appear in its namespace and go when the API drops them; packets follow them."""
    from kumo.network import routers
    from kumo.network.agent import l3
    from kumo.network.models import Router
    net_a, sub_a = plane.network("10.76.0.0/24")
    net_b, sub_b = plane.network("10.77.0.0/24")
    group = plane.group("open")
    plane.rule(group, direction="ingress", protocol="icmp")
    a = plane.instance(net_a, [group])
    hop = plane.instance(net_b, [], port_security_enabled=False)  # a "VM router" behind which 10.78.0.0/24 lies
    router_id, _ = plane.router(sub_a, sub_b)
    hop.run("ip", "addr", "add", "10.78.0.1/32", "dev", "lo", check=True)  # the network behind it
    plane.reconcile()
    ns = l3.namespace(plane.agent.namespace, router_id)

    def routes() -> str:
        return subprocess.run(["ip", "-n", ns, "route", "show"], capture_output=True, text=True, check=True).stdout

    assert a.blocked("10.78.0.1")
    with plane.db.session() as db:
        routers.set_routes(db, db.get(Router, router_id), [{"destination": "10.78.0.0/24", "nexthop": hop.ip},
                                                           {"destination": "10.79.0.5/32", "nexthop": hop.ip}])
    plane.reconcile()
    assert f"10.78.0.0/24 via {hop.ip}" in routes() and f"10.79.0.5 via {hop.ip}" in routes()
    assert a.reaches("10.78.0.1")
    with plane.db.session() as db:  # one dropped
        routers.set_routes(db, db.get(Router, router_id), [{"destination": "10.79.0.5/32", "nexthop": hop.ip}])
    plane.reconcile()
    assert "10.78.0.0/24" not in routes() and f"10.79.0.5 via {hop.ip}" in routes()
    assert a.blocked("10.78.0.1")
    with plane.db.session() as db:  # all dropped
        routers.set_routes(db, db.get(Router, router_id), [])
    plane.reconcile()
    assert "10.79.0.5" not in routes() and "10.77.0.0/24 dev" in routes()  # the connected routes stay
    plane.remove_router(router_id, sub_a, sub_b)
    for inst in (a, hop):
        plane.delete_port(inst.port_id)
    for network in (net_a, net_b):
        plane.delete_network(network)
    assert plane.reconcile() == {}
