"""Compute, image and volume benchmark through the HTTP API (Nova, Glance, Cinder).

Starts its own Kumo in a temp dir, then: 100 servers booted concurrently (create->ACTIVE p50/p99,
wall time, memory per instance, delete time), image upload/download MB/s, volume create and attach
latency. Loopback only; always destroys the server (instances, mounts, loop devices) at the end.

    .venv/bin/python bench/compute.py [--backend local|simulated] [--count 100] [--threads 8] [--poll list|each]
                                      [--image-mib 256] [--volumes 20] [--attaches 10] [--spans] [--json]

``--threads`` is how many boots are in flight at once (``--threads 100``: all 100 POSTed together);
Kumo CPU per boot is also given less the status poller's share (40 of its polls timed after the boots).
``--spans`` runs Kumo at debug level and adds the p50 of the worker's spans per build (time queued for a
worker, plan read, driver, outcome write, and with a network the wait for the agent to plug the ports).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from kumo.testing import start


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))] if values else float("nan")


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_ms(pid):
    """CPU time (user + system, all threads) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def cgroup_usage(data_dir):
    """Sum of memory.usage_in_bytes over the instance groups Kumo made for this data dir."""
    try:
        from kumo.compute.drivers.local_cgroups import Cgroups
        parent = Cgroups(data_dir).parents.get("memory")
    except (ImportError, OSError):
        return None
    if not parent or not parent.exists():
        return None
    return sum(int((p / "memory.usage_in_bytes").read_text()) for p in parent.iterdir()
               if (p / "memory.usage_in_bytes").exists())


class Api:
    def __init__(self, server):
        auth = yaml.safe_load(server.clouds_file.read_text())["clouds"]["kumo-admin"]["auth"]
        self.local = threading.local()
        self.url = server.url
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": auth["username"], "password": auth["password"],
            "domain": {"name": auth.get("user_domain_name", "Default")}}}},
            "scope": {"project": {"name": auth["project_name"],
                                  "domain": {"name": auth.get("project_domain_name", "Default")}}}}}
        r = httpx.post(self.url + "/identity/v3/auth/tokens", json=body)
        r.raise_for_status()
        self.token = r.headers["x-subject-token"]
        self.project = r.json()["token"]["project"]["id"]

    @property
    def c(self):
        if not hasattr(self.local, "c"):  # one keep-alive connection per client thread
            self.local.c = httpx.Client(base_url=self.url, headers={"X-Auth-Token": self.token}, timeout=300)
        return self.local.c


def wait(fn, until, timeout=120, every=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if until(v):
            return v
        time.sleep(every)
    raise TimeoutError(f"timed out waiting: last {v}")


def bench_servers(api, args, server, network):
    flavors = api.c.get("/compute/v2.1/flavors/detail").json()["flavors"]
    flavor = min(flavors, key=lambda f: (f["ram"], f["vcpus"]))
    image = api.c.get("/image/v2/images", params={"name": "busybox"}).json()["images"][0]["id"]
    net = "none"
    if network:
        nets = api.c.get("/network/v2.0/networks").json()["networks"]
        if not nets:
            n = api.c.post("/network/v2.0/networks", json={"network": {"name": "bench"}}).json()["network"]
            api.c.post("/network/v2.0/subnets", json={"subnet": {"network_id": n["id"], "ip_version": 4,
                                                                 "cidr": "10.77.0.0/16"}})
            nets = [n]
        net = [{"uuid": nets[0]["id"]}]
    rss0, cg0 = rss_kib(server.process.pid), cgroup_usage(server.data_dir) or 0
    cpu0 = cpu_ms(server.process.pid)

    # One poller for all servers (GET /servers?status=BUILD every 20 ms, as a client watching many
    # builds would) instead of a GET per server per 20 ms: 8 per-server pollers were most of the load.
    # --poll each restores the per-server polling of the first runs.
    seen: dict[str, float] = {}
    building: dict[str, threading.Event] = {}
    lock, done = threading.Lock(), threading.Event()
    polls = [0]

    def poller():
        while not done.is_set():
            with lock:
                watched = dict(building)
            t = time.monotonic()
            r = api.c.get("/compute/v2.1/servers", params={"status": "BUILD", "limit": 1000})
            polls[0] += 1
            still = {s["id"] for s in r.json()["servers"]}
            for sid, ev in watched.items():
                if sid not in still:
                    seen[sid] = t  # not building any more when this request began at the latest
                    with lock:
                        building.pop(sid, None)
                    ev.set()
            time.sleep(0.02)

    started: dict[str, float] = {}

    def boot(i):
        t0, wall0 = time.monotonic(), time.time()
        r = api.c.post("/compute/v2.1/servers", json={"server": {
            "name": f"bench-{i}", "flavorRef": flavor["id"], "imageRef": image, "networks": net}})
        r.raise_for_status()
        sid = r.json()["server"]["id"]
        t_api = time.monotonic() - t0
        started[sid] = wall0
        if args.poll == "each":
            s = wait(lambda: api.c.get(f"/compute/v2.1/servers/{sid}").json()["server"]["status"],
                     lambda st: st in ("ACTIVE", "ERROR"))
            if s != "ACTIVE":
                raise RuntimeError(f"server {sid} went {s}")
            return sid, t_api, time.monotonic() - t0
        ev = threading.Event()
        with lock:
            building[sid] = ev
        if not ev.wait(120):
            raise TimeoutError(f"server {sid} still building")
        return sid, t_api, seen[sid] - t0

    watcher = threading.Thread(target=poller, daemon=True)
    if args.poll == "list":
        watcher.start()
    t0 = time.monotonic()
    try:
        with ThreadPoolExecutor(args.threads) as pool:
            results = list(pool.map(boot, range(args.count)))
    finally:
        done.set()
    wall = time.monotonic() - t0
    cpu = cpu_ms(server.process.pid) - cpu0
    if args.poll == "list":  # what the watching cost Kumo: the same poll, 40 times, once the boots are done
        c0 = cpu_ms(server.process.pid)
        for _ in range(40):
            api.c.get("/compute/v2.1/servers", params={"status": "BUILD", "limit": 1000})
        poll_cpu = (cpu_ms(server.process.pid) - c0) / 40 * polls[0]
    else:
        poll_cpu = None
    shown = {s["id"]: s for s in api.c.get("/compute/v2.1/servers/detail", params={"limit": 1000}).json()["servers"]}
    bad = [sid for sid, *_ in results if shown.get(sid, {}).get("status") != "ACTIVE"]
    if bad:
        raise RuntimeError(f"{len(bad)} servers not ACTIVE, e.g. {shown.get(bad[0], {}).get('status')}")

    # the server's own clock: POST sent → launched_at (recorded by the worker as the spawn ends, in
    # the transaction that makes the server ACTIVE), free of the polling interval
    server_side = [datetime.fromisoformat(shown[sid]["OS-SRV-USG:launched_at"]).replace(tzinfo=timezone.utc)
                   .timestamp() - started[sid] for sid, *_ in results]
    time.sleep(0.5)
    rss1, cg1 = rss_kib(server.process.pid), cgroup_usage(server.data_dir)
    ids = [r[0] for r in results]
    out = {"flavor": flavor["name"], "network": bool(network), "count": args.count, "threads": args.threads,
           "poll": args.poll,
           "post_p50_ms": 1000 * pct([r[1] for r in results], .5),
           "active_p50_ms": 1000 * pct([r[2] for r in results], .5),
           "active_p99_ms": 1000 * pct([r[2] for r in results], .99),
           "launched_p50_ms": 1000 * pct(server_side, .5),
           "active_wall_s": wall,
           "kumo_cpu_ms_per_boot": cpu / args.count,  # Kumo's own process (API, workers, polls), not the instances
           "polls": polls[0],
           "kumo_cpu_ms_per_boot_less_polls": None if poll_cpu is None else (cpu - poll_cpu) / args.count,
           "server_rss_kib_per_instance": (rss1 - rss0) / args.count,
           "cgroup_kib_per_instance": None if cg1 is None else (cg1 - cg0) / 1024 / args.count}

    def delete(sid):
        api.c.delete(f"/compute/v2.1/servers/{sid}")
        wait(lambda: api.c.get(f"/compute/v2.1/servers/{sid}").status_code, lambda c: c == 404)

    t0 = time.monotonic()
    with ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(delete, ids))
    out["delete_wall_s"] = time.monotonic() - t0
    return out, flavor, image


def spans(log_text):
    """p50 of the worker's debug spans for builds (``--spans``): queue wait, plan, driver, outcome write."""
    import re

    parts = {"queued": [float(m) for m in re.findall(r"compute\.server \S+: ([\d.]+) ms queued", log_text)]}
    parts["plug_wait"] = [float(m) for m in re.findall(r"ports plugged after ([\d.]+) ms", log_text)]
    warm = set(re.findall(r"instance (\S+): boots in warm shell", log_text))
    for server, line in re.findall(r"server (\S+): scheduling pass: (.*) ms", log_text):
        for name, value in re.findall(r"(\w+) ([\d.]+)", line):
            parts.setdefault(name, []).append(float(value))
            if name == "driver":  # a first boot in a warm shell from the pool, or a cold one
                parts.setdefault("driver_warm" if server in warm else "driver_cold", []).append(float(value))
    out = {f"{name}_p50_ms": pct(values, .5) for name, values in parts.items() if values}
    out["warm_boots"] = len(warm)
    return out


def bench_image(api, args, tmp):
    path = Path(tmp) / "random.img"
    with path.open("wb") as fh:
        for _ in range(args.image_mib):
            fh.write(os.urandom(1 << 20))
    size = path.stat().st_size
    img = api.c.post("/image/v2/images", json={"name": "bench-blob", "disk_format": "raw",
                                               "container_format": "bare"}).json()
    t0 = time.monotonic()
    with path.open("rb") as fh:
        def chunks():
            while b := fh.read(1 << 20):
                yield b
        r = api.c.put(f"/image/v2/images/{img['id']}/file", content=chunks(),
                      headers={"Content-Type": "application/octet-stream"})
    r.raise_for_status()
    up = time.monotonic() - t0
    t0 = time.monotonic()
    got = 0
    with api.c.stream("GET", f"/image/v2/images/{img['id']}/file") as r:
        for b in r.iter_bytes(1 << 20):
            got += len(b)
    down = time.monotonic() - t0
    api.c.delete(f"/image/v2/images/{img['id']}")
    path.unlink()
    assert got == size, (got, size)
    mib = size / (1 << 20)
    return {"image_mib": mib, "upload_mib_s": mib / up, "download_mib_s": mib / down}


def bench_volumes(api, args, flavor, image):
    base = f"/volume/v3/{api.project}/volumes"

    def vstatus(vid):
        return api.c.get(f"{base}/{vid}").json()["volume"]["status"]

    creates, vids = [], []
    for i in range(args.volumes):
        t0 = time.monotonic()
        vid = api.c.post(base, json={"volume": {"size": 1, "name": f"bench-v{i}"}}).json()["volume"]["id"]
        st = wait(lambda v=vid: vstatus(v), lambda s: s in ("available", "error"))
        creates.append(time.monotonic() - t0)
        assert st == "available", st
        vids.append(vid)
    sid = api.c.post("/compute/v2.1/servers", json={"server": {
        "name": "bench-attach", "flavorRef": flavor["id"], "imageRef": image, "networks": "none"}}).json()["server"]["id"]
    wait(lambda: api.c.get(f"/compute/v2.1/servers/{sid}").json()["server"]["status"], lambda s: s == "ACTIVE")
    attaches, detaches = [], []
    for vid in vids[:args.attaches]:
        t0 = time.monotonic()
        api.c.post(f"/compute/v2.1/servers/{sid}/os-volume_attachments",
                   json={"volumeAttachment": {"volumeId": vid}}).raise_for_status()
        wait(lambda v=vid: vstatus(v), lambda s: s in ("in-use", "error"))
        attaches.append(time.monotonic() - t0)
    for vid in vids[:args.attaches]:
        t0 = time.monotonic()
        api.c.delete(f"/compute/v2.1/servers/{sid}/os-volume_attachments/{vid}").raise_for_status()
        wait(lambda v=vid: vstatus(v), lambda s: s in ("available", "error"))
        detaches.append(time.monotonic() - t0)
    api.c.delete(f"/compute/v2.1/servers/{sid}")
    wait(lambda: api.c.get(f"/compute/v2.1/servers/{sid}").status_code, lambda c: c == 404)
    for vid in vids:
        api.c.delete(f"{base}/{vid}")
    return {"volume_create_p50_ms": 1000 * pct(creates, .5), "volume_create_p99_ms": 1000 * pct(creates, .99),
            "attach_p50_ms": 1000 * pct(attaches, .5), "detach_p50_ms": 1000 * pct(detaches, .5)}


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), "?")
    mem = next(l.split()[1] for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal"))
    return {"nproc": os.cpu_count(), "cpu": cpu, "mem_gib": round(int(mem) / (1 << 20), 1),
            "kernel": platform.release(), "python": platform.python_version()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backend", choices=["auto", "local", "simulated"], default="auto")
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--threads", type=int, default=8, help="boots in flight at once")
    p.add_argument("--poll", choices=["list", "each"], default="list",
                   help="watch builds with one GET /servers?status=BUILD poller, or a GET per server")
    p.add_argument("--image-mib", type=int, default=256)
    p.add_argument("--volumes", type=int, default=20)
    p.add_argument("--attaches", type=int, default=10)
    p.add_argument("--network", action="store_true", help="also a second boot run with a network attached")
    p.add_argument("--skip", default="", help="comma list of parts to skip: servers,image,volumes, or plain (the boots without a network)")
    p.add_argument("--spans", action="store_true", help="run Kumo at debug level and report the worker's spans")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    out = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "load_average_at_start": Path("/proc/loadavg").read_text().split()[:3],
           "command": " ".join([Path(sys.executable).name, *sys.argv])}
    with tempfile.TemporaryDirectory(prefix="kumo-bench-compute-") as tmp:
        server = start(Path(tmp) / "data", args=("--backend", args.backend), timeout=60,
                       env={"KUMO_LOG_LEVEL": "debug"} if args.spans else None)
        try:
            api = Api(server)
            out["backend"] = httpx.get(server.url + "/healthz").text[:200]
            # lift the default quotas (10 instances, 10 volumes) for the run
            api.c.put(f"/compute/v2.1/os-quota-sets/{api.project}", json={"quota_set": {
                "instances": -1, "cores": -1, "ram": -1}}).raise_for_status()
            api.c.put(f"/volume/v3/{api.project}/os-quota-sets/{api.project}", json={"quota_set": {
                "volumes": -1, "gigabytes": -1}})
            flavors = api.c.get("/compute/v2.1/flavors/detail").json()["flavors"]
            flavor = min(flavors, key=lambda f: (f["ram"], f["vcpus"]))
            image = api.c.get("/image/v2/images", params={"name": "busybox"}).json()["images"][0]["id"]
            if "servers" not in skip:
                if "plain" not in skip:
                    out["servers"], flavor, image = bench_servers(api, args, server, network=False)
                    if args.spans:
                        out["servers"]["spans"] = spans(server.log())
                if args.network:
                    mark = len(server.log()) if args.spans else 0
                    out["servers_net"], _, _ = bench_servers(api, args, server, network=True)
                    if args.spans:
                        out["servers_net"]["spans"] = spans(server.log()[mark:])
            if "image" not in skip:
                out["image"] = bench_image(api, args, tmp)
            if "volumes" not in skip:
                out["volumes"] = bench_volumes(api, args, flavor, image)
        finally:
            server.destroy()
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for section, vals in out.items():
            if isinstance(vals, dict):
                print(f"[{section}]")
                for k, v in vals.items():
                    print(f"  {k:32} {v:.1f}" if isinstance(v, float) else f"  {k:32} {v}")
            else:
                print(f"{section:34} {vals}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
