"""Trunk benchmark: ``add_subports`` → the nested container reachable, on the local backend (root).

    .venv/bin/python bench/trunk.py [--rounds 10] [--batch 1] [--json]

Starts a Kumo (local backend), boots an instance whose parent port is on network A with a trunk, and a
peer instance on network B. Each round, as Kuryr's controller would: bulk-create ``--batch`` ports on B,
``PUT /v2.0/trunks/{id}/add_subports`` with free VLAN ids, then time until every new container (a network
namespace the agent makes under the instance's directory) answers an ICMP echo to the peer through the
tagged trunk link; then ``remove_subports`` and delete, timing until the containers are gone.
Figures: median, p90 and max over the rounds (2 shared cores: expect noise).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from targets import Kumo  # noqa: E402

PING = """
import os, select, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
body = struct.pack("!BBHHH", 8, 0, 0, os.getpid() & 0xFFFF, 1) + b"trunk-bench!"
total = sum(struct.unpack("!%dH" % (len(body) // 2), body)); total = (total >> 16) + (total & 0xFFFF)
s.sendto(body[:2] + struct.pack("!H", ~(total + (total >> 16)) & 0xFFFF) + body[4:], (sys.argv[1], 0))
sys.exit(0 if select.select([s], [], [], float(sys.argv[2]))[0] else 1)
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def reachable(handle: Path, address: str, wait: float = 0.1) -> bool:
    if not os.path.ismount(handle):
        return False
    proc = subprocess.run(["nsenter", f"--net={handle}", "--", sys.executable, "-I", "-S", "-c", PING, address,
                           str(wait)], capture_output=True, timeout=10, check=False)
    return proc.returncode == 0


def until(predicate, timeout: float = 60.0) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise SystemExit("timed out")
        time.sleep(0.01)
    return time.monotonic() - start


def summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"median_ms": round(statistics.median(ordered) * 1000, 1),
            "p90_ms": round(ordered[max(0, int(len(ordered) * 0.9) - 1)] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1), "n": len(ordered)}


def run(rounds: int, batch: int) -> dict:
    if os.geteuid() != 0:
        raise SystemExit("the trunk data plane needs root (the local backend)")
    target = Kumo()
    try:
        os.environ["OS_CLIENT_CONFIG_FILE"] = str(target.server.clouds_file)
        import openstack
        conn = openstack.connect(cloud="kumo-admin")
        nets = {}
        for i, name in enumerate("ab"):
            nets[name] = conn.network.create_network(name=f"bench-trunk-{name}")
            conn.network.create_subnet(network_id=nets[name].id, ip_version=4, cidr=f"10.77.{i}.0/24",
                                       enable_dhcp=False)
        image, flavor = conn.image.find_image("busybox"), conn.compute.find_flavor("m1.tiny")
        parent = conn.network.create_port(network_id=nets["a"].id)
        trunk = conn.network.create_trunk(port_id=parent.id, name="bench-trunk")
        servers = [conn.compute.create_server(name=f"bench-trunk-{n}", image_id=image.id, flavor_id=flavor.id,
                                              networks=[nic])
                   for n, nic in (("vm", {"port": parent.id}), ("peer", {"uuid": nets["b"].id}))]
        servers = [conn.compute.wait_for_server(s, interval=0.1, wait=120) for s in servers]
        peer_ip = next(iter(conn.network.ports(device_id=servers[1].id))).fixed_ips[0]["ip_address"]
        containers = Path(target.server.data_dir).resolve() / "instances" / servers[0].id / "containers"
        until(lambda: conn.network.get_trunk(trunk.id).status == "ACTIVE")
        add, remove = [], []
        for r in range(rounds):
            ports = list(conn.network.create_ports([{"network_id": nets["b"].id} for _ in range(batch)]))
            subs = [{"port_id": p.id, "segmentation_type": "vlan", "segmentation_id": 100 + i}
                    for i, p in enumerate(ports)]
            start = time.monotonic()
            conn.network.add_trunk_subports(trunk.id, subs)
            until(lambda ports=ports: all(reachable(containers / p.id, peer_ip) for p in ports))
            add.append(time.monotonic() - start)
            start = time.monotonic()
            conn.network.delete_trunk_subports(trunk.id, [{"port_id": p.id} for p in ports])
            until(lambda ports=ports: not any((containers / p.id).exists() for p in ports))
            remove.append(time.monotonic() - start)
            for p in ports:
                conn.network.delete_port(p.id)
            log(f"round {r + 1}: add→reachable {add[-1] * 1000:.0f} ms, remove→gone {remove[-1] * 1000:.0f} ms")
        for s in servers:
            conn.compute.delete_server(s.id)
        return {"batch": batch, "add_subports_to_reachable": summary(add), "remove_subports_to_gone": summary(remove)}
    finally:
        target.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=1, help="subports added (and removed) per round")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.rounds, args.batch)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for key in ("add_subports_to_reachable", "remove_subports_to_gone"):
        s = result[key]
        print(f"{key.replace('_', ' ')} (batch {args.batch}): median {s['median_ms']} ms, p90 {s['p90_ms']} ms,"
              f" max {s['max_ms']} ms over {s['n']} rounds")


if __name__ == "__main__":
    main()
