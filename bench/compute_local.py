"""Local compute driver benchmark: spawn N instances from the busybox image with a pool of threads.

Reports p50/p99 spawn latency, total wall time, memory per instance (the instance's memory cgroup
usage, and the PSS of its processes plus the ``unshare`` parent outside the cgroup), destroy time, and the
driver's own CPU per spawn and per destroy (this process's, not the instances').
Driver-level (no API): run as root.

    .venv/bin/python bench/compute_local.py [--count 100] [--threads 8] [--json]
    .venv/bin/python bench/compute_local.py --warm-ab 40 [--json]

``--warm-ab N``: N first boots one at a time, every other one in a warm shell from the pool
(``local_pool``, 4 shells, refilled between boots) and the others cold: spawn p50 of each kind.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid as uuidlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kumo.compute.driver import InstanceSpec, PowerState  # noqa: E402
from kumo.compute.drivers.local import LocalDriver  # noqa: E402
from kumo.image.busybox import build_tar  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def pss_kib(pid: int) -> int:
    """Proportional set size: shared pages (busybox's text, libc) split among the processes using them."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def warm_ab(driver: LocalDriver, image: Path, args) -> int:
    """Boots one at a time, alternately in a warm shell and cold (the same driver, so the same load)."""
    times: dict[str, list[float]] = {"warm": [], "cold": []}
    specs = []
    try:
        driver.images.lower(image, "busybox")
        driver.start_pool(4)
        pool = driver._pool
        for i in range(args.warm_ab):
            spec = InstanceSpec(uuid=str(uuidlib.uuid4()), name=f"ab-{i}", hostname=f"ab-{i}", vcpus=1,
                                ram_mb=64, disk_gb=1, image_file=image, image_id="busybox")
            specs.append(spec)
            warm = i % 2 == 0
            deadline = time.monotonic() + 10
            while warm and not pool._ready and time.monotonic() < deadline:
                time.sleep(0.01)
            driver._pool = pool if warm else None
            t0 = time.monotonic()
            driver.spawn(spec)
            times["warm" if warm else "cold"].append(time.monotonic() - t0)
            driver._pool = pool
            time.sleep(0.2)  # the pool refills once boots pause
        for spec in specs:
            driver.destroy(spec.uuid)
    finally:
        driver.cleanup()
    result = {"boots": args.warm_ab, **{f"{kind}_spawn_{stat}_ms": round(fn(values) * 1000, 1)
                                       for kind, values in times.items() if values
                                       for stat, fn in (("p50", statistics.median), ("mean", statistics.mean))}}
    print(json.dumps(result) if args.json else "\n".join(f"{k:24} {v}" for k, v in result.items()))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--warm-ab", type=int, default=0, metavar="N")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("the local driver needs root", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="kumo-bench-local-") as tmp:
        image = Path(tmp) / "busybox.tar"
        image.write_bytes(build_tar("busybox"))
        driver = LocalDriver(SimpleNamespace(data_dir=Path(tmp) / "data"))
        if args.warm_ab:
            return warm_ab(driver, image, args)
        specs = [InstanceSpec(uuid=str(uuidlib.uuid4()), name=f"bench-{i}", hostname=f"bench-{i}", vcpus=1,
                              ram_mb=64, disk_gb=1, image_file=image, image_id="busybox") for i in range(args.count)]
        try:
            # warm the image cache (unpacked once, shared by every instance) outside the timing
            t = time.monotonic()
            driver.images.lower(image, "busybox")
            unpack = time.monotonic() - t

            def spawn(spec):
                t0 = time.monotonic()
                driver.spawn(spec)
                return time.monotonic() - t0

            start, cpu0 = time.monotonic(), time.process_time()
            with ThreadPoolExecutor(args.threads) as pool:
                latencies = list(pool.map(spawn, specs))
            wall, spawn_cpu = time.monotonic() - start, time.process_time() - cpu0
            running = sum(driver.power_state(s.uuid) == PowerState.RUNNING for s in specs)
            time.sleep(0.5)  # let the inits settle before measuring memory
            cgroup_mem, pss = [], []
            for spec in specs:
                state = json.loads((driver.root / spec.uuid / "state.json").read_text())
                usage = Path(state["cgroups"]["memory"], "memory.usage_in_bytes")
                cgroup_mem.append(int(usage.read_text()) / 1024)
                pids = driver.cgroups.pids(state["cgroups"])
                child = driver._children.get(spec.uuid)
                pss.append(sum(pss_kib(p) for p in pids) + (pss_kib(child.pid) if child else 0))

            def destroy(spec):
                t0 = time.monotonic()
                driver.destroy(spec.uuid)
                return time.monotonic() - t0

            start, cpu0 = time.monotonic(), time.process_time()
            with ThreadPoolExecutor(args.threads) as pool:
                destroys = list(pool.map(destroy, specs))
            destroy_wall, destroy_cpu = time.monotonic() - start, time.process_time() - cpu0
        finally:
            driver.cleanup()
    result = {
        "instances": args.count, "threads": args.threads, "running": running,
        "image_unpack_s": round(unpack, 3),
        "spawn_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "spawn_p99_ms": round(pct(latencies, 0.99) * 1000, 1),
        "spawn_wall_s": round(wall, 2),
        "driver_cpu_ms_per_spawn": round(spawn_cpu * 1000 / args.count, 1),  # this process, not the instances
        "memory_cgroup_kib_per_instance": round(statistics.mean(cgroup_mem)),
        "pss_kib_per_instance": round(statistics.mean(pss)),
        "destroy_p50_ms": round(statistics.median(destroys) * 1000, 1),
        "destroy_wall_s": round(destroy_wall, 2),
        "driver_cpu_ms_per_destroy": round(destroy_cpu * 1000 / args.count, 1),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:34} {value}")
    return 0 if running == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
