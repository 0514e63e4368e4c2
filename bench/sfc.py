"""Service function chaining benchmark on the local backend (root), through openstacksdk.

Starts its own Kumo in a temp dir and boots four instances on one network: a client, a server, a routing
firewall (ip_forward) and a transparent IDS (a bridge), the two functions with an ingress and an egress
port each. Then, in the same run:

- chain create → steering active: from the ``POST port_chains`` until the first UDP datagram sent after it
  (the client sends one every millisecond) reaches the server with TTL 63, i.e. through the firewall;
- throughput (a TCP stream from python sockets) and latency (1-byte request/response round trips on one
  connection) through the two-hop chain and on the direct path, the same instances, ports 5001 vs 5011;
- creating 100 chains through the API (each with its own pair, group and classifier; their functions'
  ports are not plugged anywhere, so this is the API and the agent's pass over 100 chains).

Loopback and the instances' own addresses only; always destroys the server at the end.

    .venv/bin/python bench/sfc.py [--mib 200] [--round-trips 2000] [--activations 5] [--chains 100] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from kumo.testing import start

SINK = """
import socket, sys, threading, time
def stream(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", port)); s.listen(8)
    while True:
        c, _ = s.accept(); buf = bytearray(1 << 16)
        while c.recv_into(buf):
            pass
        c.sendall(b"done"); c.close()
def echo(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", port)); s.listen(8)
    while True:
        c, _ = s.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while (b := c.recv(1)):
            c.sendall(b)
        c.close()
def probe(port):  # first datagram that came through the firewall (TTL 63): its arrival time
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", port))
    s.setsockopt(socket.IPPROTO_IP, 12, 1)  # IP_RECVTTL
    while True:
        data, anc, _, _ = s.recvmsg(64, 64)
        ttl = next((int.from_bytes(d[:4], sys.byteorder) for l, t, d in anc if t == socket.IP_TTL), 0)
        if ttl == 63:
            print("via", time.monotonic_ns(), data.decode(), flush=True)
for target, port in ((stream, 5001), (stream, 5011), (echo, 5002), (echo, 5012), (probe, 5003)):
    threading.Thread(target=target, args=(port,), daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"""
CLIENT = """
import socket, sys, time
mode, server, port, amount = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if mode == "stream":
    s = socket.create_connection((server, port)); block = b"x" * (1 << 16); t = time.monotonic()
    for _ in range(amount * 16):
        s.sendall(block)
    s.shutdown(socket.SHUT_WR); s.recv(10); print(amount / (time.monotonic() - t))
elif mode == "echo":
    s = socket.create_connection((server, port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    times = []
    for _ in range(amount):
        t = time.monotonic_ns(); s.sendall(b"x"); s.recv(1); times.append(time.monotonic_ns() - t)
    times.sort(); print(times[len(times) // 2] / 1000, times[int(len(times) * 0.99)] / 1000)
else:  # probes: a datagram a millisecond, for ``amount`` seconds
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); end = time.monotonic() + amount
    while time.monotonic() < end:
        s.sendto(str(time.monotonic_ns()).encode(), (server, port)); time.sleep(0.001)
"""


class Box:
    def __init__(self, data_dir: Path, server_id: str):
        self.netns = data_dir / "instances" / server_id / "netns"

    def argv(self, *argv: str) -> list[str]:
        return ["nsenter", f"--net={self.netns}", "--", *argv]

    def run(self, *argv: str, stdin: str | None = None) -> str:
        proc = subprocess.run(self.argv(*argv), input=stdin, capture_output=True, text=True, timeout=600,
                              check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{argv}: {proc.stderr}")
        return proc.stdout


def setup(conn, data_dir: Path):
    net = conn.network.create_network(name="sfc-bench")
    conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.94.0.0/24")
    ports = {"client": [conn.network.create_port(network_id=net.id, name="client")],
             "server": [conn.network.create_port(network_id=net.id, name="server")]}
    for name, addressed in (("fw", True), ("ids", False)):
        ports[name] = [conn.network.create_port(network_id=net.id, name=f"{name}-{side}", port_security_enabled=False,
                                                security_group_ids=[], **({} if addressed else {"fixed_ips": []}))
                       for side in ("in", "out")]
    image, flavor = conn.image.find_image("busybox"), conn.compute.find_flavor("m1.tiny")
    servers = {name: conn.compute.create_server(name=name, image_id=image.id, flavor_id=flavor.id,
                                                networks=[{"port": p.id} for p in ps]) for name, ps in ports.items()}
    boxes = {name: Box(data_dir, conn.compute.wait_for_server(s, interval=0.1, wait=120).id)
             for name, s in servers.items()}
    every = [p for ps in ports.values() for p in ps]
    deadline = time.monotonic() + 60
    while not all(conn.network.get_port(p.id).status == "ACTIVE" for p in every):
        if time.monotonic() > deadline:
            raise TimeoutError("ports not ACTIVE")
        time.sleep(0.2)
    ips = {name: conn.network.get_port(ps[0].id).fixed_ips[0]["ip_address"] for name, ps in ports.items()
           if name in ("client", "server")}
    pairs = {name: conn.network.create_sfc_port_pair(name=name, ingress=ports[name][0].id, egress=ports[name][1].id)
             for name in ("fw", "ids")}
    groups = [conn.network.create_sfc_port_pair_group(name=name, port_pairs=[pairs[name].id]) for name in ("fw", "ids")]
    time.sleep(1)  # the functions' ports isolated on their bridge (they are in pairs) before the IDS bridges
    boxes["fw"].run("sh", "-ec", f"sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0"
                    f" net.ipv4.conf.eth0.rp_filter=0 net.ipv4.conf.eth1.rp_filter=0\n"
                    f"ip route add {ips['server']}/32 dev eth1")
    boxes["ids"].run("sh", "-ec", "sysctl -qw net.ipv6.conf.all.disable_ipv6=1\n"
                     "ip link add br0 type bridge forward_delay 0 stp_state 0\n"
                     "ip link set eth0 master br0\nip link set eth1 master br0\nip link set br0 up")
    return ports, groups, boxes, ips


def client(box: Box, mode: str, server_ip: str, port: int, amount: int) -> list[float]:
    return [float(x) for x in box.run(sys.executable, "-I", "-S", "-c", CLIENT, mode, server_ip, str(port),
                                      str(amount)).split()]


def measure(conn, data_dir: Path, args) -> dict:
    ports, groups, boxes, ips = setup(conn, data_dir)
    sink = subprocess.Popen(boxes["server"].argv(sys.executable, "-I", "-S", "-c", SINK), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    results: dict = {}
    try:
        assert sink.stdout.readline().strip() == "ready"
        src = ports["client"][0].id
        # chain create → steering active (UDP 5003, a datagram a millisecond from the client)
        activations = []
        probe = subprocess.Popen(boxes["client"].argv(sys.executable, "-I", "-S", "-c", CLIENT, "probe", ips["server"],
                                                      "5003", str(args.activations * 3 + 5)))
        try:
            for _ in range(args.activations):
                fc = conn.network.create_sfc_flow_classifier(protocol="udp", destination_port_range_min=5003,
                                                             destination_port_range_max=5003,
                                                             logical_source_port=src)
                t0 = time.monotonic_ns()
                chain = conn.network.create_sfc_port_chain(port_pair_groups=[g.id for g in groups],
                                                           flow_classifiers=[fc.id])
                while True:  # the first datagram sent after the POST began that came through the firewall
                    if not select.select([sink.stdout], [], [], 60)[0]:
                        raise TimeoutError("no datagram came through the chain within 60 s")
                    _, arrived, sent = sink.stdout.readline().split()
                    if int(sent) >= t0:
                        break
                activations.append((int(arrived) - t0) / 1e6)
                conn.network.delete_sfc_port_chain(chain)
                conn.network.delete_sfc_flow_classifier(fc)
                time.sleep(0.5)
        finally:
            probe.kill()
            probe.wait()
        results["activation_ms"] = {"p50": statistics.median(activations), "max": max(activations),
                                    "runs": len(activations)}
        # the two-hop chain on TCP 5001-5009; 5011 and 5012 go direct
        fc = conn.network.create_sfc_flow_classifier(protocol="tcp", destination_port_range_min=5001,
                                                     destination_port_range_max=5009, logical_source_port=src)
        conn.network.create_sfc_port_chain(port_pair_groups=[g.id for g in groups], flow_classifiers=[fc.id])
        time.sleep(1)
        for label, stream_port, echo_port in (("chain", 5001, 5002), ("direct", 5011, 5012),
                                              ("chain_again", 5001, 5002)):
            mbps = client(boxes["client"], "stream", ips["server"], stream_port, args.mib)[0]
            p50, p99 = client(boxes["client"], "echo", ips["server"], echo_port, args.round_trips)
            results[label] = {"throughput_mib_s": round(mbps, 1), "rtt_p50_us": round(p50), "rtt_p99_us": round(p99)}
        # many chains through the API
        results["chains"] = create_chains(conn, ports["client"][0].network_id, src, args.chains)
    finally:
        sink.kill()
        sink.wait()
    return results


def create_chains(conn, network_id: str, source: str, count: int) -> dict:
    made, times = [], []
    t_all = time.monotonic()
    for i in range(count):
        device = uuid.uuid4().hex
        t = time.monotonic()
        ingress = conn.network.create_port(network_id=network_id, device_id=device, port_security_enabled=False)
        egress = conn.network.create_port(network_id=network_id, device_id=device, port_security_enabled=False)
        pair = conn.network.create_sfc_port_pair(ingress=ingress.id, egress=egress.id)
        group = conn.network.create_sfc_port_pair_group(port_pairs=[pair.id])
        fc = conn.network.create_sfc_flow_classifier(protocol="tcp", destination_port_range_min=20000 + i,
                                                     destination_port_range_max=20000 + i, logical_source_port=source)
        t_chain = time.monotonic()
        conn.network.create_sfc_port_chain(port_pair_groups=[group.id], flow_classifiers=[fc.id])
        times.append((time.monotonic() - t_chain) * 1000)
        made.append(time.monotonic() - t)
    total = time.monotonic() - t_all
    return {"count": count, "chain_post_p50_ms": round(statistics.median(times), 1),
            "chain_post_max_ms": round(max(times), 1), "all_resources_s": round(total, 2),
            "per_chain_with_its_resources_ms": round(statistics.median(made) * 1000, 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mib", type=int, default=200, help="MiB per TCP stream")
    p.add_argument("--round-trips", type=int, default=2000)
    p.add_argument("--activations", type=int, default=5)
    p.add_argument("--chains", type=int, default=100)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        print("bench/sfc.py needs root (the local backend)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="kumo-sfc-bench-") as tmp:
        server = start(Path(tmp) / "data")
        try:
            os.environ["OS_CLIENT_CONFIG_FILE"] = str(server.clouds_file)
            import openstack
            conn = openstack.connect(cloud="kumo-admin")
            results = measure(conn, Path(server.data_dir).resolve(), args)
        finally:
            server.destroy()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        a = results["activation_ms"]
        print(f"chain create -> steering active: p50 {a['p50']:.0f} ms, max {a['max']:.0f} ms ({a['runs']} runs)")
        for label in ("chain", "direct", "chain_again"):
            r = results[label]
            print(f"{label:>12}: {r['throughput_mib_s']} MiB/s, RTT p50 {r['rtt_p50_us']} us, p99 {r['rtt_p99_us']} us")
        c = results["chains"]
        print(f"{c['count']} chains: POST port_chain p50 {c['chain_post_p50_ms']} ms (max {c['chain_post_max_ms']}),"
              f" {c['per_chain_with_its_resources_ms']} ms per chain with its ports, pair, group, classifier;"
              f" {c['all_resources_s']} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
