"""Interface names inside an instance are stable (``kumo/network/agent/ifnames.py``): an attached port takes the
lowest free ``ethN`` whatever its age, an attach or a detach never renames the others nor moves the default
route from the interface that has it, and a restarted agent learns the names already in the namespace."""

from __future__ import annotations

import json

from .plane import NEEDS_ROOT

pytestmark = NEEDS_ROOT


def _bind(plane, port_id: str, device: str) -> None:
    from kumo.network import ports
    from kumo.network.models import Port
    with plane.db.session() as db:
        ports.update(db, plane.ctx, db.get(Port, port_id), {"device_id": device, "device_owner": "compute:nova",
                                                             "binding:host_id": "kumo"})


def _unbind(plane, port_id: str) -> None:
    from kumo.network import ports
    from kumo.network.models import Port
    with plane.db.session() as db:
        ports.update(db, plane.ctx, db.get(Port, port_id), {"device_id": "", "device_owner": "",
                                                             "binding:host_id": ""})


def _port(plane, network_id: str) -> tuple[str, str, str]:
    """An unbound port: its id, MAC and address."""
    from kumo.network import ipam, ports
    from kumo.network.models import Network
    with plane.db.session() as db:
        port = ports.create(db, plane.ctx, db.get(Network, network_id), project_id=plane.project)
        return port.id, port.mac_address, ipam.fixed_ips(db, port.id)[0]["ip_address"]


def _inside(vm) -> tuple[dict[str, tuple[str, list[str]]], dict[str, str]]:
    """ethN → (MAC, IPv4 addresses), and the IPv4 default route's gateway → its device."""
    links = json.loads(vm.run("ip", "-j", "addr", "show", check=True).stdout)
    names = {link["ifname"]: (link["address"], [a["local"] for a in link.get("addr_info", []) if a["family"] == "inet"])
             for link in links if link["ifname"].startswith("eth")}
    routes = json.loads(vm.run("ip", "-j", "-4", "route", "show", "default", check=True).stdout)
    return names, {r["gateway"]: r["dev"] for r in routes}


def test_names_and_default_route_survive_attach_detach_and_agent_restart(plane):
    from kumo.network.agent.agent import Agent

    net_b, _ = plane.network("10.98.2.0/24")
    older, older_mac, older_ip = _port(plane, net_b)  # made before the instance
    net_a, _ = plane.network("10.98.1.0/24")
    vm = plane.instance(net_a)
    plane.reconcile()
    assert _inside(vm) == ({"eth0": (vm.mac, [vm.ip])}, {"10.98.1.1": "eth0"})

    _bind(plane, older, vm.device)  # attach the older port: the next free name, no route moved
    plane.reconcile()
    assert _inside(vm) == ({"eth0": (vm.mac, [vm.ip]), "eth1": (older_mac, [older_ip])}, {"10.98.1.1": "eth0"})

    plane.agent = Agent(plane.data_dir, plane.db, host="kumo")  # a restarted agent: learns what is there
    plane.reconcile()
    assert _inside(vm) == ({"eth0": (vm.mac, [vm.ip]), "eth1": (older_mac, [older_ip])}, {"10.98.1.1": "eth0"})
    assert {plane.status(vm.port_id), plane.status(older)} == {"ACTIVE"}

    _unbind(plane, vm.port_id)  # detach eth0: eth1 keeps its name and now holds the default route
    plane.reconcile()
    assert _inside(vm) == ({"eth1": (older_mac, [older_ip])}, {"10.98.2.1": "eth1"})

    plane.agent = Agent(plane.data_dir, plane.db, host="kumo")  # restart again: the route's holder is learned
    third, third_mac, third_ip = _port(plane, net_a)
    _bind(plane, third, vm.device)  # a new port takes the lowest free name; the default route stays on eth1
    plane.reconcile()
    assert _inside(vm) == ({"eth0": (third_mac, [third_ip]), "eth1": (older_mac, [older_ip])},
                           {"10.98.2.1": "eth1"})
    for port_id in (older, third):
        plane.delete_port(port_id)
    plane.reconcile()
    assert _inside(vm)[0] == {}


def test_a_pass_looks_inside_an_instance_only_when_it_first_meets_it(plane, monkeypatch):
    from kumo.network.agent import ifnames

    net, _ = plane.network("10.98.3.0/24")
    vm = plane.instance(net)
    seen = []
    real = ifnames.learn
    monkeypatch.setattr(plane.agent.ifnames, "_learn", lambda netns: seen.append(netns) or real(netns))
    plane.reconcile()
    port, mac, address = _port(plane, net)
    _bind(plane, port, vm.device)
    for _ in range(3):
        plane.reconcile()
    assert seen == [vm.handle]  # once, at the first meeting; a new port needs no look inside
    assert _inside(vm)[0] == {"eth0": (vm.mac, [vm.ip]), "eth1": (mac, [address])}
    plane.delete_port(port)
