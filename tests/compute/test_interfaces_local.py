"""Inside real instances (local backend): an interface attached through the openstack CLI or openstacksdk
appears in the instance with its address once the attach returns, and is gone after detach; ``nproc`` (the
CPU affinity mask) says the flavor's vcpus, up to the host's CPUs, and instances spread over the CPUs."""

from __future__ import annotations

import os
import random
import uuid as uuidlib
from pathlib import Path

import httpx
import pytest

if os.geteuid() != 0:
    pytest.skip("booting real instances needs root (the local backend)", allow_module_level=True)

from kumo.compute.drivers.local import LocalDriver
from kumo.compute.drivers.local_cgroups import Cgroups, parse_cpus
from kumo.config import Settings
from kumo.testing import wait_for


def _addresses(local, server_id: str) -> str:
    proc = local.exec(server_id, ["ip", "-o", "addr"])
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_interfaces_attached_and_detached_inside_the_instance(cloud, local):
    conn = cloud.sdk()
    tag = uuidlib.uuid4().hex[:8]
    prefix = f"10.{random.randint(150, 250)}.{random.randint(0, 255)}"
    network = conn.network.create_network(name=f"ifc-{tag}")
    server = None
    try:
        conn.network.create_subnet(network_id=network.id, ip_version=4, cidr=f"{prefix}.0/24", name=f"ifc-{tag}")
        server = conn.compute.create_server(name=f"ifc-{tag}", image_id=conn.image.find_image("busybox").id,
                                            flavor_id=conn.compute.find_flavor("m1.tiny").id,
                                            networks=[{"uuid": network.id}])
        server = conn.compute.wait_for_server(server, interval=0.05, wait=60)

        # the CLI: a port of the user's, attached and removed; it stays, unbound
        port = conn.network.create_port(network_id=network.id, fixed_ips=[{"ip_address": f"{prefix}.60"}])
        cloud.openstack("server", "add", "port", server.id, port.id)
        inside = _addresses(local, server.id)  # there once the attach returned
        assert f"{prefix}.60/24" in inside, inside
        assert conn.network.get_port(port.id).status == "ACTIVE"
        cloud.openstack("server", "remove", "port", server.id, port.id)
        wait_for(lambda: f"{prefix}.60/" not in _addresses(local, server.id))
        kept = conn.network.get_port(port.id)
        assert (kept.device_id, kept.status) == ("", "DOWN")
        conn.network.delete_port(port)

        # the SDK: a port made on a network for a fixed IP, deleted by the detach
        iface = conn.compute.create_server_interface(server, net_id=network.id,
                                                     fixed_ips=[{"ip_address": f"{prefix}.77"}])
        assert iface.port_state == "ACTIVE" and iface.fixed_ips[0]["ip_address"] == f"{prefix}.77"
        inside = _addresses(local, server.id)
        assert f"{prefix}.77/24" in inside, inside
        assert {line.split()[1] for line in inside.splitlines() if " eth" in line} == {"eth0", "eth1"}
        conn.compute.delete_server_interface(iface, server=server)
        wait_for(lambda: f"{prefix}.77/" not in _addresses(local, server.id))
        wait_for(lambda: conn.network.find_port(iface.port_id) is None)
        assert [i.port_id for i in conn.compute.server_interfaces(server)] != [iface.port_id]
        assert len(list(conn.compute.server_interfaces(server))) == 1
    finally:
        if server is not None:
            conn.compute.delete_server(server, ignore_missing=True)
            conn.compute.wait_for_delete(server, interval=0.05, wait=30)
        conn.network.delete_network(network, ignore_missing=True)


def test_nproc_is_the_flavors_vcpus_and_instances_spread_over_the_cpus(cloud, local):
    conn = cloud.sdk()
    tag = uuidlib.uuid4().hex[:8]
    image = conn.image.find_image("busybox").id
    host = parse_cpus(Path(Cgroups(cloud.server.data_dir).parents["cpuset"].parent, "cpuset.effective_cpus")
                      .read_text())
    flavors = {"m1.tiny": 1, "m1.xlarge": 8}
    servers = [conn.compute.create_server(name=f"cpu-{tag}-{i}", image_id=image, networks="none",
                                          flavor_id=conn.compute.find_flavor(name).id)
               for i, name in enumerate(["m1.tiny", "m1.tiny", "m1.xlarge"])]
    try:
        servers = [conn.compute.wait_for_server(s, interval=0.05, wait=60) for s in servers]
        seen = []
        for server, vcpus in zip(servers, [flavors["m1.tiny"], flavors["m1.tiny"], flavors["m1.xlarge"]]):
            proc = local.exec(server.id, ["sh", "-c", "nproc; grep Cpus_allowed_list /proc/1/status"])
            assert proc.returncode == 0, proc.stderr
            nproc, allowed = proc.stdout.split("\n", 1)
            assert int(nproc) == min(vcpus, len(host)), proc.stdout
            cpus = parse_cpus(allowed.split(":")[1])  # the instance's init: the same mask
            assert len(cpus) == int(nproc) and set(cpus) <= set(host)
            seen.append(cpus)
        if len(host) > 1:
            assert seen[0] != seen[1], seen  # the two 1-vcpu instances on different CPUs
    finally:
        for server in servers:
            conn.compute.delete_server(server, ignore_missing=True)
        for server in servers:
            conn.compute.wait_for_delete(server, interval=0.05, wait=30)


def _interfaces(local, server_id: str) -> tuple[dict[str, str], str]:
    """ethN → its IPv4 addresses (space separated), and the IPv4 default route."""
    proc = local.exec(server_id, ["sh", "-c", "ip -o -4 addr; echo ---; ip -4 route show default"])
    assert proc.returncode == 0, proc.stderr
    addrs, route = proc.stdout.split("---\n")
    found: dict[str, list[str]] = {}
    for line in addrs.splitlines():
        fields = line.split()
        if fields[1].startswith("eth"):
            found.setdefault(fields[1], []).append(fields[3])
    return {name: " ".join(sorted(a)) for name, a in found.items()}, route.strip()


def test_attach_and_detach_never_rename_the_other_interfaces(cloud, local):
    """A port older than the server, attached, is eth1 (not eth0): the boot interface keeps eth0, its address
    and the default route; detaching eth0's port leaves eth1 as it is (it takes the default route)."""
    conn = cloud.sdk()
    tag = uuidlib.uuid4().hex[:8]
    a, b = (f"10.{random.randint(150, 250)}.{random.randint(0, 255)}" for _ in range(2))
    net_a, net_b = conn.network.create_network(name=f"ifn-a-{tag}"), conn.network.create_network(name=f"ifn-b-{tag}")
    server = older = None
    try:
        conn.network.create_subnet(network_id=net_a.id, ip_version=4, cidr=f"{a}.0/24", name=f"ifn-a-{tag}")
        conn.network.create_subnet(network_id=net_b.id, ip_version=4, cidr=f"{b}.0/24", name=f"ifn-b-{tag}")
        older = conn.network.create_port(network_id=net_b.id, fixed_ips=[{"ip_address": f"{b}.40"}])
        server = conn.compute.create_server(name=f"ifn-{tag}", image_id=conn.image.find_image("busybox").id,
                                            flavor_id=conn.compute.find_flavor("m1.tiny").id,
                                            networks=[{"uuid": net_a.id}])
        server = conn.compute.wait_for_server(server, interval=0.05, wait=60)
        boot = next(iter(conn.compute.server_interfaces(server)))
        boot_ip = boot.fixed_ips[0]["ip_address"]
        assert _interfaces(local, server.id) == ({"eth0": f"{boot_ip}/24"}, f"default via {a}.1 dev eth0")

        conn.compute.create_server_interface(server, port_id=older.id)
        assert _interfaces(local, server.id) == ({"eth0": f"{boot_ip}/24", "eth1": f"{b}.40/24"},
                                                 f"default via {a}.1 dev eth0")

        conn.compute.delete_server_interface(boot.port_id, server=server)
        wait_for(lambda: "eth0" not in _interfaces(local, server.id)[0])
        wait_for(lambda: _interfaces(local, server.id) == ({"eth1": f"{b}.40/24"}, f"default via {b}.1 dev eth1"))
    finally:
        if server is not None:
            conn.compute.delete_server(server, ignore_missing=True)
            conn.compute.wait_for_delete(server, interval=0.05, wait=30)
        if older is not None:
            conn.network.delete_port(older, ignore_missing=True)
        for net in (net_a, net_b):
            conn.network.delete_network(net, ignore_missing=True)


def test_interface_names_survive_a_restart_of_kumo(fresh_cloud):
    """After ``kill -9`` and a restart, the agent learns the names already inside the instance: none moves,
    the default route stays, and a port attached next takes the next free name."""
    import signal

    first = fresh_cloud()
    if httpx.get(first.url + "/healthz").json().get("backend") != "local":
        pytest.skip("this Kumo runs the simulated backend")
    local = LocalDriver(Settings(data_dir=first.server.data_dir))
    conn = first.sdk()
    net_a, net_b = conn.network.create_network(name="ifr-a"), conn.network.create_network(name="ifr-b")
    conn.network.create_subnet(network_id=net_a.id, ip_version=4, cidr="10.71.1.0/24")
    conn.network.create_subnet(network_id=net_b.id, ip_version=4, cidr="10.71.2.0/24")
    older = conn.network.create_port(network_id=net_b.id, fixed_ips=[{"ip_address": "10.71.2.40"}])
    server = conn.compute.create_server(name="ifr", image_id=conn.image.find_image("busybox").id,
                                        flavor_id=conn.compute.find_flavor("m1.tiny").id,
                                        networks=[{"uuid": net_a.id, "fixed_ip": "10.71.1.10"}])
    server = conn.compute.wait_for_server(server, interval=0.05, wait=60)
    conn.compute.create_server_interface(server, port_id=older.id)
    before = ({"eth0": "10.71.1.10/24", "eth1": "10.71.2.40/24"}, "default via 10.71.1.1 dev eth0")
    assert _interfaces(local, server.id) == before
    first.server.stop(signal.SIGKILL)

    conn = fresh_cloud().sdk()  # same data dir: its agent meets the instance for the first time
    conn.compute.create_server_interface(server, net_id=net_a.id, fixed_ips=[{"ip_address": "10.71.1.20"}])
    assert _interfaces(local, server.id) == ({**before[0], "eth2": "10.71.1.20/24"}, before[1])
