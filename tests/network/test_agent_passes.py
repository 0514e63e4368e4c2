"""The agent's passes stay cheap: an unchanged pass runs no command and changes no link, yet what breaks
between passes (a link removed behind the agent's back) and what changes in the API are still applied."""

from __future__ import annotations

import subprocess
import uuid

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
