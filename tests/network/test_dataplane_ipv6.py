"""IPv6 on the data plane with real packets: router advertisements from the router's namespace (as radvd
does for Neutron), SLAAC in the instances' kernels, DHCPv6 from the network's dnsmasq, anti-spoofing.

Uses the harness of ``test_dataplane.py`` (a database, an agent, namespaces as instances; each test its
own data dir, everything removed at teardown, also after a failure).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kumo.testing import wait_for

from .plane import BUSYBOX, NEEDS_ROOT, Plane

pytestmark = NEEDS_ROOT

# Sends a router solicitation, prints each advertisement: flags, router lifetime, MTU, prefixes with L/A.
RA = r"""
import select, socket, struct, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.SOL_SOCKET, 25, b"eth0")
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
deadline = time.monotonic() + float(sys.argv[1])
while True:
    try:
        s.sendto(struct.pack("!BBHI", 133, 0, 0, 0), ("ff02::2", 0, 0, socket.if_nametoindex("eth0")))
        break
    except OSError:  # the link-local address may still be tentative
        if time.monotonic() > deadline:
            raise
        time.sleep(0.1)
while (left := deadline - time.monotonic()) > 0 and select.select([s], [], [], left)[0]:
    data, peer = s.recvfrom(4096)
    if data[0] != 134:
        continue
    out = {"from": peer[0].split("%")[0], "M": bool(data[5] & 0x80), "O": bool(data[5] & 0x40),
           "lifetime": struct.unpack("!H", data[6:8])[0], "prefixes": [], "mtu": None}
    i = 16
    while i + 2 <= len(data) and data[i + 1]:
        kind, size = data[i], data[i + 1] * 8
        if kind == 3:
            out["prefixes"].append([socket.inet_ntop(socket.AF_INET6, data[i + 16:i + 32]) + f"/{data[i + 2]}",
                                    bool(data[i + 3] & 0x80), bool(data[i + 3] & 0x40)])
        elif kind == 5:
            out["mtu"] = struct.unpack("!I", data[i + 4:i + 8])[0]
        i += size
    print(__import__("json").dumps(out))
    break
"""

# A DHCPv6 client (busybox has none): Solicit (with IA_NA) or Information-request from eth0, identified by
# a DUID-LL of its MAC; prints what the first answer holds: message type, addresses, status, DNS servers.
DHCP6 = r"""
import os, select, socket, struct, sys, time, json
mode, wait = sys.argv[1], float(sys.argv[2])
mac = bytes.fromhex(open("/sys/class/net/eth0/address").read().strip().replace(":", ""))
def opt(code, data):
    return struct.pack("!HH", code, len(data)) + data
xid = os.urandom(3)
body = opt(1, struct.pack("!HH", 3, 1) + mac) + opt(8, b"\0\0") + opt(6, struct.pack("!H", 23))
msg = bytes([1]) + xid + body + opt(3, struct.pack("!III", 1, 0, 0)) if mode == "solicit" else bytes([11]) + xid + body
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 25, b"eth0")
deadline = time.monotonic() + wait
while True:
    try:
        s.bind(("::", 546))
        s.sendto(msg, ("ff02::1:2", 547, 0, socket.if_nametoindex("eth0")))
        break
    except OSError:  # the link-local address may still be tentative
        if time.monotonic() > deadline:
            raise
        time.sleep(0.1)
while (left := deadline - time.monotonic()) > 0 and select.select([s], [], [], left)[0]:
    data, peer = s.recvfrom(4096)
    if data[1:4] != xid:
        continue
    out = {"type": data[0], "addresses": [], "dns": [], "status": None}
    i = 4
    while i + 4 <= len(data):
        code, size = struct.unpack("!HH", data[i:i + 4])
        value = data[i + 4:i + 4 + size]
        i += 4 + size
        if code == 3:
            j = 12
            while j + 4 <= len(value):
                c, l = struct.unpack("!HH", value[j:j + 4])
                if c == 5:
                    out["addresses"].append(socket.inet_ntop(socket.AF_INET6, value[j + 4:j + 20]))
                elif c == 13:
                    out["status"] = struct.unpack("!H", value[j + 4:j + 6])[0]
                j += 4 + l
        elif code == 23:
            out["dns"] += [socket.inet_ntop(socket.AF_INET6, value[k:k + 16]) for k in range(0, len(value), 16)]
        elif code == 13:
            out["status"] = struct.unpack("!H", value[:2])[0]
    print(json.dumps(out))
    break
"""


# One ICMPv6 echo from a chosen source (link-local ones included) on eth0; exit 0 when answered.
PING6 = r"""
import os, select, socket, struct, sys, time
index = socket.if_nametoindex("eth0")
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.bind((sys.argv[1], 0, 0, index))
ident = os.getpid() & 0xFFFF
s.sendto(struct.pack("!BBHHH", 128, 0, 0, ident, 1) + b"kumo", (sys.argv[2], 0, 0, index))
deadline = time.monotonic() + 1.0
while (left := deadline - time.monotonic()) > 0 and select.select([s], [], [], left)[0]:
    data, peer = s.recvfrom(4096)
    if data[0] == 129 and struct.unpack("!H", data[4:6])[0] == ident:
        sys.exit(0)
sys.exit(1)
"""


def _subnet(plane: Plane, network_id: str, cidr: str, mode: str | None, **kw) -> str:
    from kumo.network import subnets
    from kumo.network.models import Network
    with plane.db.session() as db:
        return subnets.create(db, plane.ctx, db.get(Network, network_id), project_id=plane.project, ip_version=6,
                              cidr=cidr, ipv6_ra_mode=mode, ipv6_address_mode=mode, **kw).id


def _v6_network(plane: Plane, cidr: str, mode: str, **kw) -> tuple[str, str]:
    from kumo.network import networks
    with plane.db.session() as db:
        net = networks.create(db, project_id=plane.project, name=f"n-{cidr}").id
    return net, _subnet(plane, net, cidr, mode, **kw)


def _v6(plane: Plane, inst) -> str:
    from kumo.network import ipam
    with plane.db.session(write=False) as db:
        return next(x["ip_address"] for x in ipam.fixed_ips(db, inst.port_id) if ":" in x["ip_address"])


def _addresses(inst) -> dict[str, list[str]]:
    """Global IPv6 addresses on eth0 → their flags (``dynamic``: taken by SLAAC; ``tentative``: DAD running)."""
    out = json.loads(inst.run("ip", "-6", "-j", "addr", "show", "dev", "eth0").stdout or "[]")
    return {a["local"]: [k for k in ("dynamic", "tentative", "permanent") if a.get(k)] or ["permanent"]
            for link in out for a in link.get("addr_info", []) if a.get("scope") == "global"}


def _slaac(inst, address: str) -> bool:
    flags = _addresses(inst).get(address)
    return flags is not None and "dynamic" in flags and "tentative" not in flags


def _default_route(inst) -> dict | None:
    routes = json.loads(inst.run("ip", "-6", "-j", "route", "show", "default").stdout or "[]")
    return routes[0] if routes else None


def _ra(inst) -> dict:
    proc = inst.run(sys.executable, "-I", "-S", "-c", RA, "5", timeout=15)
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout)


def _dhcp6(inst, mode: str) -> dict:
    proc = inst.run(sys.executable, "-I", "-S", "-c", DHCP6, mode, "5", timeout=15)
    assert proc.stdout.strip(), f"no DHCPv6 answer to {mode}: {proc.stderr}"
    return json.loads(proc.stdout)


def test_an_ipv6_slaac_address_works(plane):
    """Two instances on a SLAAC subnet take their addresses (EUI-64 of their MACs, as the API shows) and a
    default route from the router's advertisements, ping each other and, through the router, an instance on
    another IPv6 network; a source address that is not theirs is dropped (anti-spoofing covers IPv6)."""
    from kumo.network import ipam
    net, _ = plane.network("10.80.0.0/24")  # dual stack: an IPv4 subnet too
    v6 = _subnet(plane, net, "fd00:80::/64", "slaac")
    far_net, far_v6 = _v6_network(plane, "fd00:81::/64", "slaac")
    group = plane.group("open6")  # ICMPv6 from anywhere: only anti-spoofing can stop a forged source
    plane.rule(group, direction="ingress", ethertype="IPv6", protocol="ipv6-icmp")
    a, b = plane.instance(net, [group]), plane.instance(net, [group])
    far = plane.instance(far_net, [group])
    a6, b6, far6 = _v6(plane, a), _v6(plane, b), _v6(plane, far)
    assert b6 == ipam.eui64("fd00:80::/64", b.mac)  # SLAAC in the API: EUI-64 from the port's MAC
    plane.reconcile()
    assert _addresses(b) == {}  # no router yet: nothing advertises the prefix, and the agent sets no address
    router_id, macs = plane.router(v6, far_v6)
    plane.reconcile()
    for inst, address in ((a, a6), (b, b6), (far, far6)):
        wait_for(lambda i=inst, x=address: _slaac(i, x), timeout=20, what=f"SLAAC address {address}")
    assert set(_addresses(a)) == {a6}  # exactly the API's address, no temporary ones
    host = subprocess.run(["ip", "-n", plane.agent.namespace, "-6", "-o", "addr", "show", "scope", "global"],
                          capture_output=True, text=True, check=True).stdout
    assert host == ""  # the agent's own namespaces take nothing from the tenants' advertisements
    route = _default_route(a)
    assert route["gateway"] == ipam.eui64("fe80::/64", macs[v6]) and route["protocol"] == "ra", route
    ra = _ra(b)
    assert ra["prefixes"] == [["fd00:80::/64", True, True]] and not ra["M"] and not ra["O"], ra
    assert ra["mtu"] == 1450 and ra["lifetime"] > 0 and ra["from"] == route["gateway"], ra
    ping6 = [BUSYBOX, "ping6", "-c", "1", "-W", "2"]
    assert a.run(*ping6, b6).returncode == 0 and b.run(*ping6, a6).returncode == 0
    assert a.run(*ping6, far6).returncode == 0  # routed by the router's namespace
    a.run("ip", "addr", "add", "fd00:80::99/64", "dev", "eth0", "nodad", check=True)
    assert a.run(*ping6, "-I", "fd00:80::99", b6).returncode != 0  # not one of the port's addresses
    # link-local: the one of the port's MAC passes, another is dropped as well
    a_ll, b_ll = ipam.eui64("fe80::/64", a.mac), ipam.eui64("fe80::/64", b.mac)
    a.run("ip", "addr", "add", "fe80::99/64", "dev", "eth0", "nodad", check=True)
    assert a.run(sys.executable, "-I", "-S", "-c", PING6, a_ll, b_ll).returncode == 0
    assert a.run(sys.executable, "-I", "-S", "-c", PING6, "fe80::99", b_ll).returncode != 0
    # the router leaves: its advertisement daemon goes with its namespace
    plane.remove_router(router_id, v6, far_v6)
    for inst in (a, b, far):
        plane.delete_port(inst.port_id)
    for network in (net, far_net):
        plane.delete_network(network)
    assert plane.reconcile() == {}
    assert plane.leftovers() == []


def test_dhcpv6_stateful_and_stateless(plane):
    """Stateful: the router advertises "managed" (M) and a prefix without autonomous addresses; the
    network's dnsmasq hands out the port's fixed IP by DHCPv6. Stateless: "other configuration" (O) and
    an autonomous prefix; SLAAC address, DNS servers by DHCPv6 Information-request."""
    full_net, full = _v6_network(plane, "fd00:82::/64", "dhcpv6-stateful", dns_nameservers=["fd00:82::53"])
    less_net, less = _v6_network(plane, "fd00:83::/64", "dhcpv6-stateless", dns_nameservers=["fd00:83::53"])
    group = plane.default_group()
    s1, s2 = plane.instance(full_net, [group]), plane.instance(less_net, [group])
    s1_6, s2_6 = _v6(plane, s1), _v6(plane, s2)
    router_id, macs = plane.router(full, less)
    plane.reconcile()
    ra = _ra(s1)
    assert ra["M"] and ra["prefixes"] == [["fd00:82::/64", True, False]], ra
    answer = _dhcp6(s1, "solicit")
    assert answer["type"] == 2 and answer["addresses"] == [s1_6] and answer["dns"] == ["fd00:82::53"], answer
    # busybox has no DHCPv6 client: the agent configures the stateful address, as the guest's client would
    assert s1_6 in _addresses(s1) and "dynamic" not in _addresses(s1)[s1_6]
    ra = _ra(s2)
    assert ra["O"] and not ra["M"] and ra["prefixes"] == [["fd00:83::/64", True, True]], ra
    wait_for(lambda: _slaac(s2, s2_6), timeout=20, what="the stateless subnet's SLAAC address")
    answer = _dhcp6(s2, "info")
    assert answer["type"] == 7 and answer["dns"] == ["fd00:83::53"] and answer["addresses"] == [], answer
    from kumo.network import ipam
    for inst, subnet in ((s1, full), (s2, less)):
        route = wait_for(lambda i=inst: _default_route(i), what="a default route by RA")
        assert route["gateway"] == ipam.eui64("fe80::/64", macs[subnet]), route
    assert s1.run(BUSYBOX, "ping6", "-c", "1", "-W", "2", s2_6).returncode == 0  # members of the default group
    assert (plane.agent.ra_root / router_id / "pid").exists()
    # left running: the fixture's teardown is `kumo reset`'s cleanup, which must stop the RA daemon too


def test_a_server_booted_through_nova_takes_its_slaac_address(cloud):
    """The whole path: a server booted through Nova on an IPv6 SLAAC subnet behind a router takes the
    address the API shows from the router's advertisements, and reaches the router's gateway address."""
    from kumo.network import ipam
    from kumo.network.agent import l3, names

    from .plane import Instance
    N, C = "/network/v2.0", "/compute/v2.1"
    with cloud.http(cloud.token()) as admin:
        if admin.get("/healthz").json()["backend"] != "local":
            pytest.skip("this Kumo runs the simulated backend: no data plane agent")
        net = admin.post(f"{N}/networks", json={"network": {"name": "v6-e2e"}}).json()["network"]
        server_id = router = None
        try:
            sub = admin.post(f"{N}/subnets", json={"subnet": {
                "network_id": net["id"], "ip_version": 6, "cidr": "fd00:84::/64", "ipv6_ra_mode": "slaac",
                "ipv6_address_mode": "slaac"}})
            assert sub.status_code == 201, sub.text
            router = admin.post(f"{N}/routers", json={"router": {"name": "v6-e2e"}}).json()["router"]
            assert admin.put(f"{N}/routers/{router['id']}/add_router_interface",
                             json={"subnet_id": sub.json()["subnet"]["id"]}).status_code == 200
            image = next(i["id"] for i in admin.get("/image/v2/images").json()["images"] if i["name"] == "busybox")
            flavor = min(admin.get(f"{C}/flavors/detail").json()["flavors"], key=lambda f: f["ram"])["id"]
            resp = admin.post(f"{C}/servers", json={"server": {
                "name": "v6", "imageRef": image, "flavorRef": flavor, "networks": [{"uuid": net["id"]}]}})
            assert resp.status_code == 202, resp.text
            server_id = resp.json()["server"]["id"]
            wait_for(lambda: admin.get(f"{C}/servers/{server_id}").json()["server"]["status"] == "ACTIVE", timeout=30,
                     what="the server ACTIVE")
            port = admin.get(f"{N}/ports", params={"device_id": server_id}).json()["ports"][0]
            address = port["fixed_ips"][0]["ip_address"]
            assert address == ipam.eui64("fd00:84::/64", port["mac_address"])
            assert address in str(admin.get(f"{C}/servers/{server_id}").json()["server"]["addresses"])
            inst = Instance(None, port["id"], server_id, cloud.server.data_dir / "instances" / server_id / "netns",
                            address, port["mac_address"])
            wait_for(lambda: _slaac(inst, address), timeout=20, what="the server's SLAAC address")
            assert inst.run(BUSYBOX, "ping6", "-c", "1", "-W", "2", "fd00:84::1").returncode == 0
        finally:
            if server_id:
                admin.delete(f"{C}/servers/{server_id}")
                wait_for(lambda: admin.get(f"{C}/servers/{server_id}").status_code == 404, timeout=30,
                         what="the server gone")
            if router:
                admin.put(f"{N}/routers/{router['id']}/remove_router_interface",
                          json={"subnet_id": sub.json()["subnet"]["id"]})
                admin.delete(f"{N}/routers/{router['id']}")
            admin.delete(f"{N}/networks/{net['id']}")
        if router:  # the router's namespace and its advertisement daemon go
            host_ns = names.host_namespace(cloud.server.data_dir, "kumo")
            ra_dir = names.run_dir(cloud.server.data_dir) / host_ns / "ra" / router["id"]

            def gone() -> bool:
                spaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
                return l3.namespace(host_ns, router["id"]) not in spaces and not ra_dir.exists()

            wait_for(gone, what="the router's namespace and RA daemon gone")
