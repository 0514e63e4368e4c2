"""The local data plane with real packets: namespaces stand in for instances, the agent plugs them.

Each test gets its own data dir, so its host namespace (``kumo-<data dir>-<host>``) and everything
in it are unique to it; teardown removes them all, also after a failure. Only addresses inside the
test's own namespaces are traffic targets.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from kumo.testing import wait_for

from .plane import BUSYBOX, NEEDS_ROOT, PING, Instance, Plane

pytestmark = NEEDS_ROOT


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, 9)
    proc.wait()


# -- tests ----------------------------------------------------------------------------------------

def test_same_network_pings_other_network_does_not(plane):
    net_a, _ = plane.network("10.61.0.0/24")
    net_b, _ = plane.network("10.62.0.0/24")
    group = plane.default_group()  # ingress from members of the group, all egress
    a1, a2 = plane.instance(net_a, [group]), plane.instance(net_a, [group])
    b1 = plane.instance(net_b, [group])
    assert plane.status(a1.port_id) == "DOWN"
    statuses = plane.reconcile()
    assert statuses == {a1.port_id: "ACTIVE", a2.port_id: "ACTIVE", b1.port_id: "ACTIVE"}
    assert plane.status(a1.port_id) == "ACTIVE"
    # the instance side: eth0 with the port's MAC, MTU and address, default route via the gateway
    link = a1.run("ip", "-o", "link", "show", "eth0", check=True).stdout
    assert a1.mac in link and "mtu 1450" in link
    assert f"inet {a1.ip}/24" in a1.run("ip", "-o", "addr", "show", "eth0").stdout
    assert "default via 10.61.0.1 dev eth0" in a1.run("ip", "route").stdout
    assert a1.reaches(a2.ip) and a2.reaches(a1.ip)
    assert a1.blocked(b1.ip) and b1.blocked(a2.ip)
    # idempotent: a second pass changes nothing and traffic still flows
    assert plane.reconcile() == statuses
    assert a2.reaches(a1.ip)


def test_security_group_rule_opens_and_closes_tcp_80(plane):
    net, _ = plane.network("10.63.0.0/24")
    web_group = plane.group("web")  # egress only: nothing may come in
    server = plane.instance(net, [web_group])
    client = plane.instance(net, [plane.group("client")])
    plane.reconcile()
    httpd = server.serve_tcp(80)
    try:
        time.sleep(0.2)
        assert server.connect("127.0.0.1", 80, tries=5)  # the server is up
        assert not client.connect(server.ip, 80)  # default deny ingress
        assert client.blocked(server.ip)
        rule = plane.rule(web_group, direction="ingress", protocol="tcp", port_range_min=80, port_range_max=80,
                          remote_ip_prefix="10.63.0.0/24")
        plane.reconcile()
        assert client.connect(server.ip, 80, tries=5)
        assert client.blocked(server.ip)  # only TCP 80 was opened
        plane.delete_rule(rule)
        plane.reconcile()
        assert not client.connect(server.ip, 80)
        # remote_group_id: members of the client's group may reach 80, others not
        icmp = plane.rule(web_group, direction="ingress", protocol="icmp", port_range_min=8, port_range_max=0,
                          remote_group_id=client_group(plane, client))
        plane.reconcile()
        assert client.reaches(server.ip)
        plane.delete_rule(icmp)
        plane.reconcile()
        assert client.blocked(server.ip)
    finally:
        _stop(httpd)


def client_group(plane: Plane, inst: Instance) -> str:
    from kumo.network.models import Port
    with plane.db.session(write=False) as db:
        return db.get(Port, inst.port_id).security_group_ids[0]


def test_spoofed_source_is_dropped_and_port_security_off_is_honoured(plane):
    net, _ = plane.network("10.64.0.0/24")
    group = plane.group("open")
    plane.rule(group, direction="ingress", protocol="icmp")
    a = plane.instance(net, [group])
    b = plane.instance(net, [group])
    plane.reconcile()
    assert a.reaches(b.ip)
    # the instance claims another address: dropped by anti-spoofing (ARP and IP)
    a.run("ip", "addr", "add", "10.64.0.200/24", "dev", "eth0", check=True)
    assert a.reaches(b.ip) and a.blocked(b.ip, source="10.64.0.200")
    a.run("ip", "addr", "del", "10.64.0.200/24", "dev", "eth0", check=True)
    # an allowed address pair makes it legitimate
    from kumo.network import ports
    from kumo.network.models import Port
    with plane.db.session() as db:
        ports.update(db, plane.ctx, db.get(Port, a.port_id), {"allowed_address_pairs": [{"ip_address": "10.64.0.200"}]})
    plane.reconcile()
    a.run("ip", "addr", "add", "10.64.0.200/24", "dev", "eth0", check=True)
    assert a.reaches(b.ip, source="10.64.0.200")
    # a port without port security: no filtering at all
    c = plane.instance(net, [], port_security_enabled=False)
    plane.reconcile()
    c.run("ip", "addr", "add", "10.64.0.201/24", "dev", "eth0", check=True)
    assert c.reaches(b.ip, source="10.64.0.201")
    assert a.reaches(c.ip)


def test_dhcp_client_gets_the_ports_address(plane):
    net, _ = plane.network("10.65.0.0/24", dns_nameservers=["10.65.0.53"])
    group = plane.default_group()
    inst = plane.instance(net, [group])
    plane.reconcile()
    inst.run("ip", "addr", "flush", "dev", "eth0", check=True)  # forget the static address
    script = plane.data_dir / "udhcpc.sh"
    script.write_text('#!/bin/sh\n[ "$1" = bound ] && echo "lease $ip $router $dns $mtu" >&2\nexit 0\n')
    script.chmod(0o755)
    proc = inst.run(BUSYBOX, "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "5", "-T", "1", "-s", str(script),
                    "-O", "mtu", timeout=20)
    assert f"lease {inst.ip} 10.65.0.1 10.65.0.53 1450" in proc.stderr, proc.stderr
    # the DHCP port exists in the database, Neutron-style, and another port joining is served too
    from kumo.network.agent import names
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    assert names.dhcp_namespace(plane.agent.namespace, net) in netns
    second = plane.instance(net, [group])
    plane.reconcile()
    second.run("ip", "addr", "flush", "dev", "eth0", check=True)
    proc = second.run(BUSYBOX, "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "5", "-T", "1", "-s", str(script),
                      "-O", "mtu", timeout=20)
    assert f"lease {second.ip} " in proc.stderr, proc.stderr


def test_deleting_everything_leaves_nothing(plane):
    net_a, _ = plane.network("10.66.0.0/24")
    net_b, _ = plane.network("10.67.0.0/24")
    group = plane.default_group()
    a, b = plane.instance(net_a, [group]), plane.instance(net_b, [group])
    plane.reconcile()
    from kumo.network.agent import firewall
    assert "inet kumo" in firewall.tables(plane.agent.namespace)
    assert any("eth0" in line for line in a.links())
    # a port deleted: its veth goes (in the instance too), the port's network stays
    plane.delete_port(a.port_id)
    plane.reconcile()
    assert not any("eth0" in line for line in a.links())
    assert plane.leftovers() != []
    # a crash: the agent's namespace survives, a new agent finds and fixes things
    from kumo.network.agent.agent import Agent
    fresh = Agent(plane.data_dir, plane.db, host="kumo")
    assert fresh.reconcile() == {b.port_id: "ACTIVE"}
    plane.delete_port(b.port_id)
    plane.delete_network(net_a)
    plane.delete_network(net_b)
    assert fresh.reconcile() == {}
    assert plane.leftovers() == []
    assert not any("eth0" in line for line in b.links())


def test_router_joins_subnets_snat_and_floating_ip(plane):
    from kumo.network import floating_ips, networks, routers, subnets
    from kumo.network.models import FloatingIP, Router
    net_a, sub_a = plane.network("10.71.0.0/24")
    net_b, sub_b = plane.network("10.72.0.0/24")
    with plane.db.session() as db:
        ext = networks.create(db, project_id=plane.project, name="public", external=True)
        subnets.create(db, plane.ctx, ext, project_id=plane.project, ip_version=4, cidr="172.31.250.0/24")
        ext_id = ext.id
    group = plane.group("open")
    plane.rule(group, direction="ingress", protocol="icmp")
    a, b = plane.instance(net_a, [group]), plane.instance(net_b, [group])
    # "outside": a host on the external network whose default route (the subnet's .1) leads nowhere,
    # so it can only answer a router's gateway address (SNAT) and reach an instance by its floating IP
    outside = plane.instance(ext_id, [], port_security_enabled=False)
    plane.reconcile()
    assert a.blocked(b.ip)
    router_id, _ = plane.router(sub_a, sub_b)
    plane.reconcile()
    assert a.reaches(b.ip) and b.reaches(a.ip)
    assert a.blocked(outside.ip)  # no gateway yet
    with plane.db.session() as db:
        routers.set_gateway(db, plane.ctx, db.get(Router, router_id), {"network_id": ext_id})
    plane.reconcile()
    assert a.reaches(outside.ip)  # SNAT to the router's gateway address
    assert outside.blocked(a.ip)
    with plane.db.session() as db:
        fip = floating_ips.create(db, plane.ctx, project_id=plane.project, floating_network_id=ext_id,
                                  port_id=b.port_id)
        fip_id, address = fip.id, fip.floating_ip_address
    plane.reconcile()
    assert outside.reaches(address)  # DNAT to b
    assert b.reaches(outside.ip)
    # take it all apart: the router's namespace goes
    with plane.db.session() as db:
        floating_ips.delete(db, db.get(FloatingIP, fip_id))
        router = db.get(Router, router_id)
        routers.set_gateway(db, plane.ctx, router, None)
        routers.remove_interface(db, plane.ctx, router, subnet_id=sub_a)
        routers.remove_interface(db, plane.ctx, router, subnet_id=sub_b)
        routers.delete(db, router)
    plane.reconcile()
    assert a.blocked(b.ip)
    from kumo.network.agent import l3
    spaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    assert l3.namespace(plane.agent.namespace, router_id) not in spaces
    for inst in (a, b, outside):
        plane.delete_port(inst.port_id)
    for network in (net_a, net_b, ext_id):
        plane.delete_network(network)
    assert plane.reconcile() == {}
    assert plane.leftovers() == []


def test_vxlan_between_two_hosts(plane):
    """Two hosts (each its own agent and host namespace) joined by an underlay: VXLAN carries the network,
    with MTU 1450 inside a 1500 underlay."""
    from kumo.network.agent import names
    from kumo.network.agent.agent import Agent
    net, _ = plane.network("10.73.0.0/24")
    group = plane.group("open")
    plane.rule(group, direction="ingress", protocol="icmp")
    host_a = Agent(plane.data_dir, plane.db, host="host-a", tunnel_ip="192.0.2.1")
    host_b = Agent(plane.data_dir, plane.db, host="host-b", tunnel_ip="192.0.2.2")
    a = plane.instance(net, [group], host="host-a")
    b = plane.instance(net, [group], host="host-b")
    assert host_a.reconcile() == {a.port_id: "ACTIVE"}
    assert host_b.reconcile() == {b.port_id: "ACTIVE"}
    # the underlay: a fabric namespace with a bridge, each host namespace on it with its tunnel address
    fabric = names.data_prefix(plane.data_dir) + "fabric"
    sh = [f"ip netns add {fabric}", f"ip -n {fabric} link add fab type bridge", f"ip -n {fabric} link set fab up"]
    for agent, address, tag in ((host_a, "192.0.2.1", "a"), (host_b, "192.0.2.2", "b")):
        sh += [f"ip -n {agent.namespace} link add ul-{tag} type veth peer name ul netns {fabric}",
               f"ip -n {fabric} link set ul name ul{tag}", f"ip -n {fabric} link set ul{tag} master fab up",
               f"ip -n {agent.namespace} addr add {address}/24 dev ul-{tag}",
               f"ip -n {agent.namespace} link set ul-{tag} up"]
    for command in sh:
        subprocess.run(command.split(), check=True)
    host_a.reconcile()  # now that host b has registered its tunnel address
    assert a.reaches(b.ip) and b.reaches(a.ip)
    assert a.reaches(b.ip, size=1450 - 28)  # a full 1450-byte packet crosses the tunnel
    assert a.run(sys.executable, "-I", "-S", "-c", PING, b.ip, "", "0.5", str(1450 - 27), "1").returncode == 2
    # (one byte more does not fit the instance's MTU of 1450)
    fdb = subprocess.run(["ip", "netns", "exec", host_a.namespace, "bridge", "fdb", "show", "dev",
                          "vx-" + net.replace("-", "")[:11]], capture_output=True, text=True, check=True).stdout
    assert f"{b.mac} dst 192.0.2.2" in fdb and "00:00:00:00:00:00 dst 192.0.2.2" in fdb
    plane.delete_port(b.port_id)
    host_a.reconcile()
    fdb = subprocess.run(["ip", "netns", "exec", host_a.namespace, "bridge", "fdb", "show", "dev",
                          "vx-" + net.replace("-", "")[:11]], capture_output=True, text=True, check=True).stdout
    assert f"{b.mac} dst" not in fdb  # (the bridge may still remember it, unforwarded, until it ages out)
    plane.delete_port(a.port_id)
    assert host_a.reconcile() == {} and host_b.reconcile() == {}
    subprocess.run(["ip", "netns", "del", fabric], check=True)
    assert plane.leftovers() == []


def test_through_the_api_ports_go_active_and_nothing_is_left(cloud):
    """The agent in a live Kumo: woken by API changes, ports ACTIVE once plugged, the network's bridge,
    DHCP namespace and dnsmasq gone after the deletes (the shared Kumo may host other tests' instances,
    so only this network's things are checked here; the tests above check that nothing at all is left)."""
    from kumo.network.agent import names
    with cloud.http(cloud.token()) as admin:
        if admin.get("/healthz").json()["backend"] != "local":
            pytest.skip("this Kumo runs the simulated backend: no data plane agent")
        data_dir = cloud.server.data_dir
        host_ns = names.host_namespace(data_dir, "kumo")
        handles, made = [], []
        try:
            net = admin.post("/network/v2.0/networks", json={"network": {"name": "dp"}}).json()["network"]
            sub = admin.post("/network/v2.0/subnets", json={"subnet": {
                "network_id": net["id"], "ip_version": 4, "cidr": "10.68.0.0/24"}})
            assert sub.status_code == 201, sub.text
            for late in (False, True):  # the second instance publishes its namespace after its port exists,
                device = uuid.uuid4().hex  # as the compute driver does: the agent looks again soon
                handle = data_dir / "instances" / device / "netns"
                handle.parent.mkdir(parents=True)
                handle.touch()
                handles.append(handle)
                if not late:
                    subprocess.run(["unshare", f"--net={handle}", "ip", "link", "set", "lo", "up"], check=True)
                resp = admin.post("/network/v2.0/ports", json={"port": {
                    "network_id": net["id"], "device_id": device, "device_owner": "compute:nova",
                    "binding:host_id": "kumo"}})
                assert resp.status_code == 201, resp.text
                made.append(resp.json()["port"])
                if late:
                    time.sleep(0.5)
                    subprocess.run(["unshare", f"--net={handle}", "ip", "link", "set", "lo", "up"], check=True)
            for port in made:
                wait_for(lambda p=port: admin.get(f"/network/v2.0/ports/{p['id']}").json()["port"]["status"] == "ACTIVE",
                         timeout=10, what=f"port {port['id']} ACTIVE")
            one, two = (Instance(None, p["id"], p["device_id"], h, p["fixed_ips"][0]["ip_address"], p["mac_address"])
                        for p, h in zip(made, handles))
            assert one.reaches(two.ip)  # the default group: members reach each other
            dhcp_ports = admin.get("/network/v2.0/ports", params={"network_id": net["id"],
                                                                 "device_owner": "network:dhcp"}).json()["ports"]
            assert len(dhcp_ports) == 1 and dhcp_ports[0]["status"] == "ACTIVE"
            dhcp_dir = names.run_dir(data_dir) / host_ns / "dhcp" / net["id"]
            assert dhcp_dir.is_dir()
            for port in made:
                assert admin.delete(f"/network/v2.0/ports/{port['id']}").status_code == 204
            assert admin.delete(f"/network/v2.0/networks/{net['id']}").status_code == 204

            def gone() -> bool:
                spaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                                        check=False).stdout.split()
                bridge = host_ns in spaces and subprocess.run(
                    ["ip", "netns", "exec", host_ns, "ip", "link", "show", names.bridge(net["id"])],
                    capture_output=True, check=False).returncode == 0
                unplugged = not any("eth0" in line for line in one.links() + two.links())
                return not bridge and names.dhcp_namespace(host_ns, net["id"]) not in spaces \
                    and not dhcp_dir.exists() and unplugged

            wait_for(gone, what="the network's bridge, DHCP namespace, dnsmasq and the instances' eth0 gone")
        finally:
            for port in made:
                admin.delete(f"/network/v2.0/ports/{port['id']}")
            if "net" in locals():
                admin.delete(f"/network/v2.0/networks/{net['id']}")
            for handle in handles:
                subprocess.run(["umount", str(handle)], capture_output=True, check=False)
                shutil.rmtree(handle.parent, ignore_errors=True)
