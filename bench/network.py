"""Networking benchmark: Kumo's Neutron API and data plane, and side by side the real Neutron (``--peer DIR``).

    .venv/bin/python bench/network.py [--seconds 5] [--json] [--peer DIR] [--list-ports 10000]

For each target, with 1 and 8 concurrent clients (closed loop, keep-alive, loopback; bench/loadgen.py):
port create (``POST /v2.0/ports`` on a network with a /16 subnet: IPAM and MAC allocation), network
create, network read (``GET /v2.0/networks/{id}``); then lists of ports on a network holding exactly
1,000 and ``--list-ports`` ports (10,000): whole (one ``GET /v2.0/ports?network_id=``) and paginated
(``limit=--page-size``, following the ``next`` links to the end: each page's latency and the whole walk).
Then, Kumo only (the peer runs no agents, its ports never go ACTIVE), on the local backend: port create →
ACTIVE for a port bound to an instance (a network namespace published where the compute driver puts it),
and security-group rule change → enforced (from the API's reply to the nft rule present in the host
namespace, and to a TCP connection passing; rule removal to the rule gone and the connection refused), and
the server CPU of a change the data plane ignores (an unbound port renamed: the API's update, and the agent's pass
if that wakes one — since the agent judges each commit, it does not). ``--seed N`` first makes N unbound ports in the default group (bulk creates), to measure at scale.
Figures and how to read them: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson  # noqa: E402

import loadgen  # noqa: E402
from identity import fmt, machine, ratio  # noqa: E402
from loadgen import Request  # noqa: E402
from targets import Keystone, Kumo  # noqa: E402

# The peer on its own ports, so that it never meets another engineer's peer on the defaults.
os.environ.setdefault("KS_PORT", "15110")
os.environ.setdefault("NEUTRON_PORT", "19710")

OPS = (("port_create", "port create (POST /v2.0/ports)"),
       ("net_create", "network create (POST /v2.0/networks)"),
       ("net_get", "network read (GET /v2.0/networks/{id})"))


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Net:
    """A target's Neutron endpoint, with an admin token."""

    def __init__(self, name: str, url: str, token: str, target):
        self.name, self.url, self.token, self.target = name, url.rstrip("/"), token, target

    def req(self, method: str, path: str, body=None, expect: int = 200) -> Request:
        headers = {"X-Auth-Token": self.token}
        if body is not None:
            headers["Content-Type"] = "application/json"
        return Request(method, self.url + path, headers, orjson.dumps(body) if body is not None else None, expect)

    def call(self, method: str, path: str, body=None, expect: int = 200) -> dict:
        status, parsed, _ = loadgen.call(self.req(method, path, body, expect))
        if status != expect:
            raise RuntimeError(f"{self.name}: {method} {path} answered {status}: {parsed}")
        return parsed

    def network(self, name: str, cidr: str) -> str:
        net = self.call("POST", "/v2.0/networks", {"network": {"name": name}}, 201)["network"]["id"]
        self.call("POST", "/v2.0/subnets", {"subnet": {"network_id": net, "ip_version": 4, "cidr": cidr,
                                                       "name": name + "-sub"}}, 201)
        return net

    def fill(self, network_id: str, count: int, chunk: int = 100) -> None:
        """``count`` ports on the network, by bulk creates of ``chunk`` ports."""
        made = len(self.call("GET", f"/v2.0/ports?network_id={network_id}&fields=id")["ports"])
        while made < count:
            n = min(chunk, count - made)
            self.call("POST", "/v2.0/ports", {"ports": [{"network_id": network_id, "name": f"fill-{made + i}"}
                                                        for i in range(n)]}, 201)
            made += n


def neutron_url(peer_dir: Path) -> str:
    conf = (peer_dir / "neutron" / "uwsgi.ini").read_text()
    socket = next(line.split("=", 1)[1].strip() for line in conf.splitlines() if line.startswith("http-socket"))
    return f"http://{socket}"


def walk(net: Net, network_id: str, page: int) -> tuple[float, list[float], int]:
    """Every port of the network, ``page`` at a time through the ``next`` links: (total s, page latencies, ports)."""
    conn = loadgen.Connection(net.url)
    path = f"/v2.0/ports?network_id={network_id}&limit={page}"
    lat, seen = [], 0
    t0 = time.monotonic()
    try:
        while path:
            t = time.monotonic()
            status, body = conn.send(net.req("GET", path))
            lat.append(time.monotonic() - t)
            if status != 200:
                raise RuntimeError(f"{net.name}: GET {path} answered {status}: {body[:200]!r}")
            data = orjson.loads(body)
            seen += len(data["ports"])
            nxt = [link["href"] for link in data.get("ports_links", []) if link["rel"] == "next"]
            path = None
            if nxt and data["ports"]:
                href = nxt[0]
                path = href[href.index("/v2.0/"):]
    finally:
        conn.close()
    return time.monotonic() - t0, lat, seen


def ms(values: list[float], p: float) -> float | None:
    return round(loadgen.percentile(sorted(values), p) * 1000, 2) if values else None


class Subject:
    """One target: its endpoint, fixtures and results."""

    def __init__(self, net: Net, args, tag: str):
        self.net = net
        self.res = {"ops": {}, "lists": {}}
        log(f"  {net.name}: fixtures")
        self.port_net = net.network(f"bench-{tag}-ports", "10.200.0.0/16")
        self.get_net = net.network(f"bench-{tag}-get", "10.202.0.0/24")
        self.list_nets = {}
        for count in sorted(set(args.list_ports_for(net.name))):
            nid = net.network(f"bench-{tag}-list{count}", "10.201.0.0/16" if count <= 1000 else "10.203.0.0/16")
            t0 = time.monotonic()
            chunk = args.fill_chunk if net.name == "Kumo" else args.peer_fill_chunk
            net.fill(nid, count, chunk)
            log(f"  {net.name}: {count} ports made in {time.monotonic() - t0:.1f} s (bulk creates of {chunk})")
            self.list_nets[count] = nid
        self.requests = {
            "port_create": net.req("POST", "/v2.0/ports", {"port": {"network_id": self.port_net}}, 201),
            "net_create": net.req("POST", "/v2.0/networks", {"network": {"name": f"bench-{tag}"}}, 201),
            "net_get": net.req("GET", f"/v2.0/networks/{self.get_net}"),
        }


def measure(subjects: list[Subject], args) -> None:
    for op, _ in OPS:
        for clients in args.clients:
            for sub in subjects:
                quiet = loadgen.wait_quiet(args.settle) if args.settle else {}
                row = loadgen.run(sub.requests[op], clients, args.seconds, args.max_requests,
                                  server_cpu=sub.net.target.cpu_seconds)
                row.update(quiet)
                sub.res["ops"][f"{op}/{clients}"] = row
                log(f"  {sub.net.name:8s} {op:11s} c={clients:<2d} {row['ops_per_s']:>8} /s  p50 {row['p50_ms']} ms"
                    f"  p99 {row['p99_ms']} ms  n={row['n']} err={row['errors']}  server CPU "
                    f"{row.get('server_cpu_ms_per_req')} ms/req, other {row.get('other_cpu_pct')}%"
                    + (f"  first errors: {row['first_errors']}" if row.get("first_errors") else ""))
    for sub in subjects:
        for count, nid in sorted(sub.list_nets.items()):
            whole = sub.net.req("GET", f"/v2.0/ports?network_id={nid}")
            status, body, _ = loadgen.call(whole)
            if status != 200 or len(body["ports"]) != count:
                raise RuntimeError(f"{sub.net.name}: the list network holds {len(body['ports'])} ports, not {count}")
            quiet = loadgen.wait_quiet(args.settle) if args.settle else {}
            row = loadgen.run(whole, 1, args.list_seconds, args.max_requests, server_cpu=sub.net.target.cpu_seconds)
            row.update(quiet)
            walks = []
            pages: list[float] = []
            deadline = time.monotonic() + args.list_seconds
            while not walks or (time.monotonic() < deadline and len(walks) < 50):
                total, lat, seen = walk(sub.net, nid, args.page_size)
                if seen != count:
                    raise RuntimeError(f"{sub.net.name}: the paginated walk saw {seen} ports, not {count}")
                walks.append(total)
                pages.extend(lat)
            res = {"whole": row, "walk_n": len(walks), "walk_p50_ms": ms(walks, 50), "walk_p99_ms": ms(walks, 99),
                   "page_n": len(pages), "page_p50_ms": ms(pages, 50), "page_p99_ms": ms(pages, 99)}
            sub.res["lists"][str(count)] = res
            log(f"  {sub.net.name:8s} list {count:>6} ports: whole p50 {row['p50_ms']} ms p99 {row['p99_ms']} ms "
                f"(n={row['n']}, server CPU {row.get('server_cpu_ms_per_req')} ms/req, other "
                f"{row.get('other_cpu_pct')}%); paginated by {args.page_size}: walk p50 {res['walk_p50_ms']} ms p99 "
                f"{res['walk_p99_ms']} ms (n={len(walks)}), page p50 {res['page_p50_ms']} ms p99 {res['page_p99_ms']} ms")


# -- the data plane (Kumo, local backend) -------------------------------------------------------------

CONNECTOR = r"""
import socket, sys, time
# one line per job: "open|closed ADDRESS PORT DEADLINE_S"; answers the CLOCK_MONOTONIC time of the first
# connection attempt that opened (or, for "closed", failed), or "timeout"
for line in sys.stdin:
    want, address, port, limit = line.split()
    end = time.monotonic() + float(limit)
    answer = "timeout"
    while time.monotonic() < end:
        start = time.monotonic()
        try:
            with socket.create_connection((address, int(port)), timeout=0.03) as s:
                ok = s.recv(8).strip() == b"ok"
        except OSError:
            ok = False
        if ok == (want == "open"):
            answer = repr(start if want == "closed" else time.monotonic())
            break
        if ok:
            time.sleep(0.002)
        elif time.monotonic() - start < 0.01:
            time.sleep(0.002)
    print(answer, flush=True)
"""

SERVER = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(64)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    try:
        c.sendall(b"ok\n")
    finally:
        c.close()
"""


class Instances:
    """Network namespaces published where the compute driver publishes an instance's (what the agent plugs)."""

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.handles: list[Path] = []
        self.procs: list[subprocess.Popen] = []

    def make(self) -> tuple[str, Path]:
        device = uuid.uuid4().hex
        handle = self.data_dir / "instances" / device / "netns"
        handle.parent.mkdir(parents=True)
        handle.touch()
        self.handles.append(handle)
        subprocess.run(["unshare", f"--net={handle}", "ip", "link", "set", "lo", "up"], check=True)
        return device, handle

    def popen(self, handle: Path, code: str, *argv: str) -> subprocess.Popen:
        proc = subprocess.Popen(["nsenter", f"--net={handle}", "--", sys.executable, "-I", "-S", "-c", code, *argv],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for handle in self.handles:
            subprocess.run(["umount", str(handle)], capture_output=True, check=False)
            shutil.rmtree(handle.parent, ignore_errors=True)


def nft_has(namespace: str, chain: str, needle: str) -> bool:
    """``needle`` in one chain of the host's ``inet kumo`` table (not the whole table, which would also print
    every remote-group member; nft still fetches them first: ~100 ms a look with 10,000)."""
    out = subprocess.run(["ip", "netns", "exec", namespace, "nft", "list", "chain", "inet", "kumo", chain],
                         capture_output=True, text=True, check=False).stdout
    return needle in out


def wait_for(predicate, timeout: float, step: float = 0.002) -> float | None:
    """The monotonic time at which ``predicate()`` first held (None: not within ``timeout``)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return time.monotonic()
        time.sleep(step)
    return None


def dataplane(kumo, net: Net, args) -> dict:
    from kumo.network.agent import firewall, names

    data_dir = kumo.server.data_dir
    host_ns = names.host_namespace(data_dir, "kumo")
    inst = Instances(data_dir)
    out: dict = {"active": [], "reply": [], "rule_nft": [], "rule_pass": [], "unrule_nft": [], "unrule_block": [],
                 "timeouts": []}
    extra: dict = {}
    try:
        if args.seed:  # unbound ports in the project's default group: every one a member of its remote-group rule
            seed_net = net.network("bench-dp-seed", "10.205.0.0/16")
            t0 = time.monotonic()
            net.fill(seed_net, args.seed, args.fill_chunk)
            extra["seeded"] = args.seed
            log(f"  {args.seed} unbound ports in the default group made in {time.monotonic() - t0:.1f} s")
            loadgen.wait_quiet(args.settle) if args.settle else None
        nid = net.network("bench-dp", "10.204.0.0/24")
        sg = net.call("POST", "/v2.0/security-groups", {"security_group": {"name": "bench-dp"}}, 201)
        sg = sg["security_group"]["id"]
        ports = []
        for i in range(args.active_runs + 1):  # the first one only warms the path up (bridge, DHCP, nft)
            device, handle = inst.make()
            body = {"port": {"network_id": nid, "device_id": device, "device_owner": "compute:nova",
                             "binding:host_id": "kumo"}}
            if i == 1:
                body["port"]["security_groups"] = [sg]  # the server: only what the group allows comes in
            t0 = time.monotonic()
            port = net.call("POST", "/v2.0/ports", body, 201)["port"]
            t1 = time.monotonic()
            path = f"/v2.0/ports/{port['id']}"
            t2 = wait_for(lambda: net.call("GET", path)["port"]["status"] == "ACTIVE", 30, args.poll_ms / 1000)
            if t2 is None:
                raise RuntimeError(f"port {port['id']} not ACTIVE within 30 s")
            ports.append((port, handle))
            if i:
                out["reply"].append(t1 - t0)
                out["active"].append(t2 - t0)
            log(f"  port create → ACTIVE: {1000 * (t2 - t0):.1f} ms (API reply {1000 * (t1 - t0):.1f} ms)")
        (server, server_ns), (_, client_ns) = ports[1], ports[2]
        address = server["fixed_ips"][0]["ip_address"]
        srv = inst.popen(server_ns, SERVER, str(args.tcp_port))
        if srv.stdout.readline().strip() != "ready":
            raise RuntimeError("the TCP server in the instance did not start")
        conn = inst.popen(client_ns, CONNECTOR)

        def ask(want: str, limit: float) -> float | None:
            conn.stdin.write(f"{want} {address} {args.tcp_port} {limit}\n")
            conn.stdin.flush()
            answer = conn.stdout.readline().strip()
            return None if answer == "timeout" else float(answer)

        if ask("closed", 5) is None:
            raise RuntimeError("TCP passes before any rule allows it")
        needle = f"tcp dport {args.tcp_port}"
        chain = firewall.group_chain("ingress", sg)  # where the group's ingress rules are
        for i in range(args.rule_runs):
            by_packet = i % 2 == 0  # alternately: poll the packet path, or the nft ruleset
            t0 = time.monotonic()
            rule = net.call("POST", "/v2.0/security-group-rules", {"security_group_rule": {
                "security_group_id": sg, "direction": "ingress", "protocol": "tcp", "ethertype": "IPv4",
                "port_range_min": args.tcp_port, "port_range_max": args.tcp_port}}, 201)["security_group_rule"]
            t1 = time.monotonic()
            seen = ask("open", args.dp_timeout) if by_packet else wait_for(lambda: nft_has(host_ns, chain, needle),
                                                                            args.dp_timeout)
            if seen is None:  # recorded as the time-out (a lower bound), and counted
                out["timeouts"].append(f"rule add, {'packet' if by_packet else 'nft'}")
                seen = t1 + args.dp_timeout
            out["rule_pass" if by_packet else "rule_nft"].append(seen - t1)
            time.sleep(0.05)
            t0 = time.monotonic()
            net.call("DELETE", f"/v2.0/security-group-rules/{rule['id']}", expect=204)
            t1 = time.monotonic()
            gone = ask("closed", args.dp_timeout) if by_packet else wait_for(
                lambda: not nft_has(host_ns, chain, needle), args.dp_timeout)
            if gone is None:
                out["timeouts"].append(f"rule delete, {'packet' if by_packet else 'nft'}")
                gone = t1 + args.dp_timeout
                if by_packet or nft_has(host_ns, chain, needle):  # the next round must start from a closed port
                    wait_for(lambda: not nft_has(host_ns, chain, needle), 60, 0.1)
            out["unrule_block" if by_packet else "unrule_nft"].append(max(0.0, gone - t1))
            log(f"  rule {'add → TCP passes' if by_packet else 'add → nft rule'}: "
                f"{1000 * out['rule_pass' if by_packet else 'rule_nft'][-1]:.1f} ms; delete → "
                f"{'TCP refused' if by_packet else 'nft rule gone'}: "
                f"{1000 * out['unrule_block' if by_packet else 'unrule_nft'][-1]:.1f} ms")
        extra["touch"] = touch_cost(kumo, net, nid, args)
        for port, _ in ports:
            net.call("DELETE", f"/v2.0/ports/{port['id']}", expect=204)
        net.call("DELETE", f"/v2.0/security-groups/{sg}", expect=204)
        net.call("DELETE", f"/v2.0/networks/{nid}", expect=204)
    finally:
        inst.close()
    timeouts = out.pop("timeouts")
    return {"timeouts": timeouts, **extra, **{key: {"n": len(v), "p50_ms": ms(v, 50), "p90_ms": ms(v, 90),
                                                    "max_ms": ms(v, 100)} for key, v in out.items()}}


def touch_cost(kumo, net: Net, network_id: str, args) -> dict:
    """Server CPU of a change the data plane does not care about (an unbound port renamed): the API's update and
    whatever the agent does about it (a rename wakes no pass now; before, an idle pass at this cloud's size)."""
    port = net.call("POST", "/v2.0/ports", {"port": {"network_id": network_id}}, 201)["port"]
    try:
        time.sleep(0.5)
        loadgen.wait_quiet(args.settle) if args.settle else None
        cpu0, t0 = kumo.cpu_seconds(), time.monotonic()
        for i in range(args.touch_runs):
            net.call("PUT", f"/v2.0/ports/{port['id']}", {"port": {"name": f"touch-{i}"}})
            time.sleep(0.15)  # the pass runs after the reply: let it finish before the next
        cpu = kumo.cpu_seconds() - cpu0
        wall = time.monotonic() - t0
    finally:
        net.call("DELETE", f"/v2.0/ports/{port['id']}", expect=204)
    row = {"n": args.touch_runs, "server_cpu_ms": round(1000 * cpu / args.touch_runs, 2),
           "wall_s": round(wall, 2)}
    log(f"  unbound port renamed (API update + any agent work): {row['server_cpu_ms']} ms server CPU each")
    return row


# -- report -----------------------------------------------------------------------------------------

def report(out: dict) -> str:
    kumo, peer = out["kumo"], out.get("neutron")
    name = "Neutron"
    if not kumo["ops"]:
        return dataplane_table(out)
    lines = ["| operation | clients | Kumo /s | Kumo p50 ms | Kumo p99 ms | Kumo server CPU ms/req | other load"
             + (f" | {name} /s | {name} p50 ms | {name} p99 ms | {name} server CPU ms/req | other load"
                f" | throughput Kumo/{name}" if peer else "") + " |",
             "|---|---:|---:|---:|---:|---:|---:" + ("|---:|---:|---:|---:|---:|---:" if peer else "") + "|"]
    for op, label in OPS:
        for clients in out["clients"]:
            k = kumo["ops"][f"{op}/{clients}"]
            row = (f"| {label} | {clients} | {fmt(k['ops_per_s'])} | {fmt(k['p50_ms'])} | {fmt(k['p99_ms'])}"
                   f" | {fmt(k.get('server_cpu_ms_per_req'))} | {fmt(k.get('other_cpu_pct'), '%')}")
            if peer:
                p = peer["ops"][f"{op}/{clients}"]
                row += (f" | {fmt(p['ops_per_s'])} | {fmt(p['p50_ms'])} | {fmt(p['p99_ms'])}"
                        f" | {fmt(p.get('server_cpu_ms_per_req'))} | {fmt(p.get('other_cpu_pct'), '%')}"
                        f" | {ratio(k['ops_per_s'], p['ops_per_s'])}")
            lines.append(row + " |")
    lines += ["", "| list ports on one network (1 client) | Kumo p50 ms | Kumo p99 ms"
              + (f" | {name} p50 ms | {name} p99 ms | p50 {name}/Kumo" if peer else "") + " |",
              "|---|---:|---:" + ("|---:|---:|---:" if peer else "") + "|"]
    counts = sorted({int(c) for c in kumo["lists"]} | ({int(c) for c in peer["lists"]} if peer else set()))
    for count in counts:
        k = kumo["lists"].get(str(count))
        p = peer["lists"].get(str(count)) if peer else None
        rows = [(f"{count:,} ports, whole (one GET)", "whole", "p50_ms", "p99_ms"),
                (f"{count:,} ports, whole: server CPU ms per GET, mean", "whole", "server_cpu_ms_per_req", None),
                (f"{count:,} ports, paginated by {out['page_size']}: the whole walk", None, "walk_p50_ms",
                 "walk_p99_ms"),
                (f"{count:,} ports, paginated by {out['page_size']}: one page", None, "page_p50_ms", "page_p99_ms")]
        for label, sub, p50, p99 in rows:
            def get(res, key):
                if res is None:
                    return None
                return (res[sub] if sub else res).get(key)
            row = f"| {label} | {fmt(get(k, p50))} | {fmt(get(k, p99)) if p99 else ''}"
            if peer:
                row += (f" | {fmt(get(p, p50))} | {fmt(get(p, p99)) if p99 else ''}"
                        f" | {ratio(get(p, p50), get(k, p50))}")
            lines.append(row + " |")
    return "\n".join(lines + ["", dataplane_table(out)])


def dataplane_table(out: dict) -> str:
    lines = []
    dp = out.get("dataplane")
    if dp:
        lines += ["| data plane (Kumo, local backend) | n | p50 ms | p90 ms | max ms |", "|---|---:|---:|---:|---:|"]
        if dp.get("seeded"):
            lines.insert(0, f"the cloud holds {dp['seeded']:,} more ports (unbound, in the default group)\n")
        for key, label in (("reply", "port create (bound to an instance): API reply"),
                           ("active", "port create → ACTIVE (instance's veth plugged, addresses set, nft applied)"),
                           ("rule_nft", "security-group rule create: API reply → nft rule present"),
                           ("rule_pass", "security-group rule create: API reply → a new TCP connection passes"),
                           ("unrule_nft", "security-group rule delete: API reply → nft rule gone"),
                           ("unrule_block", "security-group rule delete: API reply → new connections blocked")):
            r = dp[key]
            lines.append(f"| {label} | {r['n']} | {fmt(r['p50_ms'])} | {fmt(r['p90_ms'])} | {fmt(r['max_ms'])} |")
        if dp.get("touch"):
            lines.append(f"| unbound port renamed: server CPU ms per update (API + any agent work: no pass since "
                         f"commits are judged) | {dp['touch']['n']} | {fmt(dp['touch']['server_cpu_ms'])} | | |")
        if dp.get("timeouts"):
            lines.append(f"\ntimed out after {out.get('dp_timeout')} s (counted as that): {', '.join(dp['timeouts'])}")
    elif out.get("dataplane_skipped"):
        lines += [f"data plane not measured: {out['dataplane_skipped']}"]
    return "\n".join(lines)


def text(out: dict) -> str:
    m = out["machine"]
    lines = [f"{m['date']}  {m['cpus']} x {m['cpu_model']}, {m['memory_gib']} GiB, Linux {m['kernel']}, "
             f"Python {m['python']}; {out['seconds']:g} s per measurement; working tree on {out.get('commit')}",
             "", report(out)]
    if out.get("neutron"):
        lines += ["", f"Neutron {out['neutron'].get('version')} under uWSGI ({out['neutron']['url']}), ML2, no agents, "
                      f"SQLite; Keystone {out['neutron'].get('keystone_version')}."]
    return "\n".join(lines)


class ListSizes:
    def __init__(self, args):
        self.kumo, self.peer = args.list_ports, args.peer_list_ports

    def __call__(self, name: str) -> list[int]:
        return self.kumo if name == "Kumo" else self.peer


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5, help="duration of each measurement (default 5)")
    parser.add_argument("--list-seconds", type=float, default=5, help="duration of each list measurement")
    parser.add_argument("--max-requests", type=int, default=20000, help="request budget of each measurement")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8], help="concurrencies (default 1 8)")
    parser.add_argument("--list-ports", type=int, nargs="+", default=[1000, 10000],
                        help="Kumo: port counts of the list measurements (default 1000 10000)")
    parser.add_argument("--peer-list-ports", type=int, nargs="+", default=[1000],
                        help="the peer: port counts of the list measurements (default 1000; it makes ~10/s)")
    parser.add_argument("--fill-chunk", type=int, default=100, help="Kumo: ports per bulk create when seeding")
    parser.add_argument("--peer-fill-chunk", type=int, default=20,
                        help="the peer: ports per bulk create when seeding (200 takes Neutron minutes)")
    parser.add_argument("--page-size", type=int, default=1000, help="limit= of the paginated lists (default 1000)")
    parser.add_argument("--active-runs", type=int, default=10, help="port create → ACTIVE repetitions")
    parser.add_argument("--rule-runs", type=int, default=10, help="security-group rule add/delete repetitions")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="data plane: first make N unbound ports in the default group (bulk creates of "
                             "--fill-chunk) on a network of their own, to measure at scale")
    parser.add_argument("--poll-ms", type=float, default=2,
                        help="data plane: pause between two GETs of a port waiting for ACTIVE (default 2; each GET "
                             "costs the server a few ms of CPU, which the agent's pass then waits for)")
    parser.add_argument("--touch-runs", type=int, default=40,
                        help="data plane: renames of an unbound port, for the server CPU of a change ignored")
    parser.add_argument("--tcp-port", type=int, default=8080)
    parser.add_argument("--dp-timeout", type=float, default=30,
                        help="seconds a data-plane change may take before it counts as timed out")
    parser.add_argument("--settle", type=float, default=10,
                        help="before each measurement, wait up to this many seconds for the machine to be "
                             "idle (it is shared; default 10, 0 = don't wait)")
    parser.add_argument("--dataplane-only", action="store_true",
                        help="only the data-plane measurements (Kumo, on a cloud holding nothing else)")
    parser.add_argument("--no-dataplane", action="store_true", help="skip the data-plane measurements")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of tables")
    parser.add_argument("--peer", metavar="DIR", help="also measure the real Neutron of "
                        "/work/shared/peers/start-peers.sh DIR (started if not serving, stopped at the end; "
                        "ports KS_PORT/NEUTRON_PORT, default 15110/19710)")
    parser.add_argument("--keep-peer", action="store_true", help="leave a peer started here running")
    parser.add_argument("--render", metavar="JSON", help="print the tables of an earlier --json output and stop")
    args = parser.parse_args(argv)
    if args.render:
        print(text(json.loads(Path(args.render).read_text())))
        return 0
    args.list_ports_for = ListSizes(args)
    commit = subprocess.run(["git", "-C", str(Path(__file__).resolve().parent), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip()
    out = {"machine": machine(), "command": " ".join([Path(sys.executable).name, *sys.argv]), "commit": commit,
           "seconds": args.seconds, "clients": args.clients, "page_size": args.page_size,
           "dp_timeout": args.dp_timeout}
    peer = kumo = None
    tag = uuid.uuid4().hex[:6]
    try:
        if args.peer:  # first: the first install takes minutes, better known early
            peer = Keystone(args.peer, keep=args.keep_peer, log=log)
        kumo = Kumo()
        log(f"== Kumo at {kumo.base}" + (f", Keystone at {peer.base}" if peer else ""))
        nets = [Net("Kumo", kumo.base + "/network", kumo.token(), kumo)]
        if peer:
            nurl = neutron_url(peer.dir)
            nets.append(Net("Neutron", nurl, peer.token(), NeutronProcs(peer)))
        subjects = []
        if not args.dataplane_only:
            with ThreadPoolExecutor(len(nets)) as pool:  # the fixtures of both at once (seeding is not measured)
                subjects = list(pool.map(lambda n: Subject(n, args, tag), nets))
            measure(subjects, args)
        out["kumo"] = subjects[0].res if subjects else {"ops": {}, "lists": {}}
        out["kumo"]["info"] = kumo.info
        if peer and subjects:
            out["neutron"] = {**subjects[1].res, "url": nurl, "version": freeze(peer.dir, "neutron"),
                              "keystone_version": peer.info.get("version")}
        if args.no_dataplane:
            out["dataplane_skipped"] = "--no-dataplane"
        else:
            _, health, _ = loadgen.call(Request("GET", kumo.base + "/healthz"))
            if (health or {}).get("backend") != "local":
                out["dataplane_skipped"] = f"Kumo runs the {(health or {}).get('backend')} backend (not root?)"
        if "dataplane_skipped" not in out:
            log("== data plane (Kumo, local backend)")
            try:
                out["dataplane"] = dataplane(kumo, nets[0], args)
            except Exception as exc:  # noqa: BLE001 - the API figures are still worth printing
                log(f"data plane measurement failed: {exc!r}")
                out["dataplane_skipped"] = f"failed: {exc!r}"
    finally:
        if kumo is not None:
            kumo.close()
        if peer is not None:
            peer.close()
    print(json.dumps(out, indent=1) if args.json else text(out))
    return 0


class NeutronProcs:
    """CPU of the peer's Neutron processes (uWSGI master and workers)."""

    def __init__(self, keystone):
        self.dir = keystone.dir
        self.keystone = keystone

    def pids(self) -> list[int]:
        path = self.dir / "run" / "neutron.master.pid"
        return [int(path.read_text().split()[0])] if path.exists() else []

    def cpu_seconds(self) -> float:
        import psutil
        total = 0.0
        for pid in self.pids():
            try:
                proc = psutil.Process(pid)
                for p in [proc, *proc.children(recursive=True)]:
                    t = p.cpu_times()
                    total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total


def freeze(peer_dir: Path, name: str) -> str | None:
    path = peer_dir / "run" / f"freeze-{name}.txt"
    if path.exists():
        for line in path.read_text().splitlines():
            if line.lower().startswith(f"{name}=="):
                return line.split("==", 1)[1]
    return None


if __name__ == "__main__":
    sys.exit(main())
