"""Trunk ports with real packets: containers nested in an instance, each on its own Neutron port, the Kuryr way.

One real instance (local backend) whose parent port is on network A carries a trunk; its subports on
networks B (VLAN 100) and C (VLAN 200) become nested containers (network namespaces the agent makes
under the instance's directory). Peers are real instances on B and C. Everything goes through the
real clients (openstacksdk, the ``openstack`` CLI); the packets are real, and so is the capture of the
tags on the trunk link (a raw AF_PACKET socket on the parent's tap, which sees frames before tc does).
Only addresses inside this test's own namespaces are traffic targets.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from kumo.network.agent import names
from kumo.testing import wait_for

from .plane import PING

if os.geteuid() != 0:
    pytest.skip("the trunk data plane needs root (namespaces, eBPF)", allow_module_level=True)

# Frames on one link for a while: (source MAC, VLAN id or 0) of each, the tag read from the packet
# socket's auxdata (the kernel holds it out of band) or, if still in the frame, from the frame itself.
CAPTURE = """
import select, socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.setsockopt(263, 8, 1)  # SOL_PACKET, PACKET_AUXDATA
s.bind((sys.argv[1], 0))
s.settimeout(0.2)
print("ready", flush=True)
seen = set()
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end and not select.select([sys.stdin], [], [], 0)[0]:  # until told to stop
    try:
        frame, anc, _, addr = s.recvmsg(2048, socket.CMSG_SPACE(20))
    except socket.timeout:
        continue
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    vid = 0
    for level, kind, data in anc:
        if level == 263 and kind == 8:
            status, _, _, _, _, tci, tpid = struct.unpack("IIIHHHH", data[:20])
            if status & (1 << 4):  # TP_STATUS_VLAN_VALID
                vid = tci & 0xFFF
    if not vid and frame[12:14] == b"\\x81\\x00":
        vid = struct.unpack("!H", frame[14:16])[0] & 0xFFF
    seen.add((frame[6:12].hex(":"), vid))
for mac, vid in sorted(seen):
    print(mac, vid)
"""



class World:
    """Networks A, B, C; a trunk instance on A; peers on B and C — all made through openstacksdk."""

    def __init__(self, cloud):
        self.cloud = cloud
        self.conn = cloud.sdk()
        self.data_dir = Path(cloud.server.data_dir).resolve()
        self.tag = uuid.uuid4().hex[:6]
        self.created: list[tuple[str, object]] = []  # (kind, resource) in creation order
        base = random.randint(16, 250)
        self.nets, self.subnets = {}, {}
        for i, name in enumerate("abc"):
            net = self._keep("network", self.conn.network.create_network(name=f"trk-{self.tag}-{name}"))
            sub = self._keep("subnet", self.conn.network.create_subnet(
                network_id=net.id, ip_version=4, cidr=f"10.{base}.{i * 10}.0/24", enable_dhcp=False))
            self.nets[name], self.subnets[name] = net, sub
        image = self.conn.image.find_image("busybox")
        flavor = self.conn.compute.find_flavor("m1.tiny")
        self.parent = self._keep("port", self.conn.network.create_port(network_id=self.nets["a"].id,
                                                                       name=f"trk-{self.tag}-parent"))
        self.trunk = None
        self.after_instance = None
        self.servers = {}
        for role, nic in (("trunk", {"port": self.parent.id}), ("b", {"uuid": self.nets["b"].id}),
                          ("c", {"uuid": self.nets["c"].id})):
            server = self.conn.compute.create_server(name=f"trk-{self.tag}-{role}", image_id=image.id,
                                                     flavor_id=flavor.id, networks=[nic])
            self.servers[role] = self._keep("server", server)
        for role, server in self.servers.items():
            self.servers[role] = self.conn.compute.wait_for_server(server, interval=0.1, wait=60)
        self.peer_ip = {r: self._ip(self.servers[r].id) for r in ("b", "c")}

    def _keep(self, kind: str, resource):
        self.created.append((kind, resource))
        return resource

    def _ip(self, server_id: str) -> str:
        port = next(iter(self.conn.network.ports(device_id=server_id)))
        return port.fixed_ips[0]["ip_address"]

    # -- looking at the data plane ------------------------------------------------------------

    @property
    def host_ns(self) -> str:
        return names.host_namespace(self.data_dir, "kumo")

    def container(self, port_id: str) -> Path:
        return self.data_dir / "instances" / self.servers["trunk"].id / "containers" / port_id

    def ping(self, port_id: str, address: str, tries: int = 6, wait: float = 0.5, source: str = "") -> bool:
        handle = self.container(port_id)
        if not os.path.ismount(handle):
            return False
        argv = [sys.executable, "-I", "-S", "-c", PING, address, source, str(wait), "16", str(tries)]
        proc = subprocess.run(["nsenter", f"--net={handle}", "--", *argv], capture_output=True,
                              timeout=tries * wait + 10, check=False)
        return proc.returncode == 0

    def inside(self, port_id: str, *argv: str) -> str:
        proc = subprocess.run(["nsenter", f"--net={self.container(port_id)}", "--", *argv], capture_output=True,
                              text=True, timeout=10, check=True)
        return proc.stdout

    def host_links(self, prefixes=(names.TRUNK_LINK, names.TRUNK_PEER)) -> list[str]:
        out = subprocess.run(["ip", "-n", self.host_ns, "-o", "link", "show"], capture_output=True, text=True,
                             check=False).stdout
        return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()
                if line.split(":")[1].strip().startswith(prefixes)]

    def capture(self, link: str, seconds: float) -> subprocess.Popen:
        proc = subprocess.Popen(["nsenter", f"--net=/run/netns/{self.host_ns}", "--", sys.executable, "-I", "-S",
                                 "-c", CAPTURE, link, str(seconds)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True)
        assert proc.stdout.readline().strip() == "ready"
        return proc

    def wait_active(self, port_ids: list[str], timeout: float = 30.0) -> None:
        def ready():
            return all(self.conn.network.get_port(pid).status == "ACTIVE" for pid in port_ids)
        wait_for(ready, timeout=timeout)

    # -- removal -----------------------------------------------------------------------------

    def close(self) -> None:
        servers = [r for kind, r in self.created if kind == "server"]  # first: a trunk in use can't go
        for server in servers:
            self.conn.compute.delete_server(server.id, ignore_missing=True)
        for server in servers:
            try:
                self.conn.compute.wait_for_delete(server, interval=0.1, wait=60)
            except Exception as exc:
                print(f"server {server.id} not deleted: {exc}")
        if self.trunk is not None:  # its instance gone: the trunk and its subports go down, unbound
            trunk = self.conn.network.get_trunk(self.trunk.id)
            self.after_instance = (trunk.status, sorted({(p.status, p.binding_host_id) for p in (
                self.conn.network.get_port(s["port_id"]) for s in trunk.sub_ports)}))
        for kind, resource in reversed(self.created):
            try:
                if kind == "trunk":
                    self.conn.network.delete_trunk(resource.id, ignore_missing=True)
                elif kind == "port":
                    self.conn.network.delete_port(resource.id, ignore_missing=True)
                elif kind == "subnet":
                    self.conn.network.delete_subnet(resource.id, ignore_missing=True)
                elif kind == "network":
                    self.conn.network.delete_network(resource.id, ignore_missing=True)
            except Exception as exc:  # keep cleaning up; say what failed
                print(f"cleanup of {kind} {getattr(resource, 'id', resource)} failed: {exc}")


@pytest.fixture(scope="module")
def world(cloud):
    info = httpx.get(cloud.url + "/healthz").json()
    if info.get("backend") != "local":
        pytest.skip(f"this Kumo runs the {info.get('backend')} backend, not the local one")
    w = World(cloud)
    try:
        yield w
    finally:
        w.close()
    # nothing of the trunk is left: no subport links, no nested containers, no pinned programs
    wait_for(lambda: not w.host_links(), timeout=30)
    wait_for(lambda: not list(w.data_dir.glob("instances/*/containers")), timeout=30)
    wait_for(lambda: not os.path.ismount(names.run_dir(w.data_dir) / w.host_ns / "bpf"), timeout=30)
    if w.after_instance is not None:
        assert w.after_instance == ("DOWN", [("DOWN", "")]), w.after_instance


def test_nested_containers_reach_their_networks_over_tagged_trunk(world):
    w, conn = world, world.conn
    sub_b = w._keep("port", conn.network.create_port(network_id=w.nets["b"].id, name=f"trk-{w.tag}-sb"))
    sub_c = w._keep("port", conn.network.create_port(network_id=w.nets["c"].id, name=f"trk-{w.tag}-sc"))
    # the real CLI, as an operator would
    trunk = w.cloud.openstack("network", "trunk", "create", "--parent-port", w.parent.id,
                              "--subport", f"port={sub_b.id},segmentation-type=vlan,segmentation-id=100",
                              "--subport", f"port={sub_c.id},segmentation-type=vlan,segmentation-id=200",
                              "-f", "json", f"trk-{w.tag}")
    w.trunk = w._keep("trunk", conn.network.get_trunk(trunk["id"]))
    w.wait_active([sub_b.id, sub_c.id])
    wait_for(lambda: conn.network.get_trunk(trunk["id"]).status == "ACTIVE", timeout=10)
    for sub in (sub_b, sub_c):
        port = conn.network.get_port(sub.id)
        assert (port.device_owner, port.device_id, port.binding_host_id) == ("trunk:subport", trunk["id"], "kumo")
        # the container holds the subport's MAC and address
        shown = w.inside(sub.id, "ip", "-o", "addr", "show", "dev", "eth0")
        assert sub.fixed_ips[0]["ip_address"] in shown
        assert sub.mac_address in w.inside(sub.id, "ip", "-o", "link", "show", "dev", "eth0")

    tap = names.tap(w.parent.id)
    capture = w.capture(tap, 20.0)
    assert w.ping(sub_b.id, w.peer_ip["b"])
    assert w.ping(sub_c.id, w.peer_ip["c"])
    seen = {tuple(line.split()) for line in capture.communicate("stop\n", timeout=30)[0].splitlines()}
    # frames from each container cross the trunk link tagged with their own VLAN id, and never untagged
    assert (sub_b.mac_address, "100") in seen and (sub_c.mac_address, "200") in seen, seen
    assert not {(mac, vid) for mac, vid in seen if mac in (sub_b.mac_address, sub_c.mac_address)} - {
        (sub_b.mac_address, "100"), (sub_c.mac_address, "200")}, seen

    # each subport's anti-spoofing applies: an address that is not the subport's does not get through
    spoofed = w.peer_ip["b"].rsplit(".", 1)[0] + ".250"
    w.inside(sub_b.id, "ip", "addr", "add", f"{spoofed}/24", "dev", "eth0")
    assert not w.ping(sub_b.id, w.peer_ip["b"], tries=2, source=spoofed)
    assert w.ping(sub_b.id, w.peer_ip["b"], source=sub_b.fixed_ips[0]["ip_address"])

    # B and C are isolated: C's peer is unreachable from B's container even on-link (tag 100 leads to B only)
    w.inside(sub_b.id, "ip", "route", "add", f"{w.peer_ip['c']}/32", "dev", "eth0")
    assert not w.ping(sub_b.id, w.peer_ip["c"], tries=2)
    w.inside(sub_c.id, "ip", "route", "add", f"{w.peer_ip['b']}/32", "dev", "eth0")
    assert not w.ping(sub_c.id, w.peer_ip["b"], tries=2)


def test_kuryr_flow_adds_and_removes_containers(world):
    """What Kuryr's nested-VLAN controller does: the instance's port by fixed IP, its trunk, bulk-created
    ports, add_subports with free VLAN ids; then remove_subports and delete."""
    w, conn = world, world.conn
    if w.trunk is None:
        pytest.skip("needs the trunk of the previous test")
    vm_ip = conn.network.get_port(w.parent.id).fixed_ips[0]["ip_address"]
    port = next(iter(conn.network.ports(fixed_ips=[f"ip_address={vm_ip}"], network_id=w.nets["a"].id)))
    trunk_id = port.trunk_details["trunk_id"]
    assert trunk_id == w.trunk.id
    taken = {s["segmentation_id"] for s in port.trunk_details["sub_ports"]}
    free = [vid for vid in range(1, 4095) if vid not in taken][:2]
    created = conn.network.create_ports([{"network_id": w.nets["b"].id, "name": f"trk-{w.tag}-k1"},
                                         {"network_id": w.nets["c"].id, "name": f"trk-{w.tag}-k2"}])
    ports = [p for p in created]
    for p in ports:
        w._keep("port", p)
    started = time.monotonic()
    conn.network.add_trunk_subports(trunk_id, [{"port_id": p.id, "segmentation_type": "vlan", "segmentation_id": v}
                                               for p, v in zip(ports, free)])
    assert wait_for(lambda: w.ping(ports[0].id, w.peer_ip["b"], tries=1, wait=0.2), timeout=30, interval=0.05)
    print(f"add_subports → container reachable: {time.monotonic() - started:.2f} s")
    assert w.ping(ports[1].id, w.peer_ip["c"])
    w.wait_active([p.id for p in ports])
    links_with = set(w.host_links())
    assert {names.trunk_link(p.id) for p in ports} <= links_with

    conn.network.delete_trunk_subports(trunk_id, [{"port_id": p.id} for p in ports])
    for p in ports:
        conn.network.delete_port(p.id)
    # they lose connectivity: the containers, their links and their map entries go
    wait_for(lambda: not any(w.container(p.id).exists() for p in ports), timeout=30)
    wait_for(lambda: not ({names.trunk_link(p.id) for p in ports} & set(w.host_links())), timeout=30)
    assert not w.ping(ports[0].id, w.peer_ip["b"], tries=1)
    # the first test's containers are untouched
    remaining = [s["port_id"] for s in conn.network.get_trunk(trunk_id).sub_ports]
    assert len(remaining) == 2 and all(w.container(pid).exists() for pid in remaining)
    assert w.ping(remaining[0], w.peer_ip["b"]) or w.ping(remaining[0], w.peer_ip["c"])


def test_trunk_degraded_while_a_subport_cannot_be_plugged(world):
    """A subport whose container cannot be made leaves the trunk DEGRADED (as Neutron reports a partial
    failure) and that subport DOWN; once the obstacle goes, both come back."""
    w, conn = world, world.conn
    if w.trunk is None:
        pytest.skip("needs the trunk of the first test")
    port = w._keep("port", conn.network.create_port(network_id=w.nets["b"].id, name=f"trk-{w.tag}-bad"))
    blocker = w.container(port.id)
    blocker.mkdir(parents=True)  # a directory where the container's namespace handle goes: no bind mount there
    try:
        conn.network.add_trunk_subports(w.trunk.id, [{"port_id": port.id, "segmentation_type": "vlan",
                                                     "segmentation_id": 300}])
        wait_for(lambda: conn.network.get_trunk(w.trunk.id).status == "DEGRADED", timeout=30)
        assert conn.network.get_port(port.id).status == "DOWN"
    finally:
        blocker.rmdir()
    conn.network.update_port(port.id, name=f"trk-{w.tag}-fixed")  # any change wakes the agent
    w.wait_active([port.id])
    wait_for(lambda: conn.network.get_trunk(w.trunk.id).status == "ACTIVE", timeout=30)
    assert w.ping(port.id, w.peer_ip["b"])
    conn.network.delete_trunk_subports(w.trunk.id, [{"port_id": port.id}])
    wait_for(lambda: not w.container(port.id).exists(), timeout=30)
