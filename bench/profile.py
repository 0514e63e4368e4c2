"""Where a Kumo request's time goes: py-spy samples the server while the benchmark's load runs.

    .venv/bin/pip install py-spy        # a profiling tool, not a dependency of Kumo
    .venv/bin/python bench/profile.py validate [--seconds 10] [--clients 1] [--gil] [--top 25]

Operations: issue, validate, projects (the requests of bench/identity.py); net_get, net_create,
port_create, port_list (1,000 ports on one network, whole: the requests of bench/network.py). Prints
the functions with the most samples, by their own time and inclusive of what they call; ``--out FILE`` also
keeps py-spy's folded stacks (for a flame graph). ``--gil`` samples only the thread holding the
GIL, which is what bounds a single-process server; leave it off for token issue, whose Argon2
hash runs without the GIL.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen  # noqa: E402
from loadgen import Request  # noqa: E402
from targets import Kumo  # noqa: E402

NET_OPS = ("net_get", "net_create", "port_create", "port_list")
IDLE = ("Condition.wait ", "Queue.get ", "Event.wait ", "select ")  # a thread waiting, not working


def summarize(folded: Path, top: int) -> str:
    own, incl, total = collections.Counter(), collections.Counter(), 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames, n = stack.split(";"), int(count)
        if not stack or frames[-1].startswith(IDLE):
            continue
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            incl[frame] += n
    lines = [f"{total} samples of busy threads", "", "own time:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    lines += ["", "inclusive (kumo code only):"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in incl.most_common()
              if "kumo/" in f][:top]
    return "\n".join(lines)


def network_request(kumo: Kumo, token: str, op: str) -> Request:
    """bench/network.py's request for ``op``, with its fixture (a network with a /16 subnet)."""
    from network import Net
    net = Net("Kumo", kumo.base + "/network", token, kumo)
    nid = net.network("profile-net", "10.200.0.0/16")
    if op == "port_list":
        net.fill(nid, 1000, 100)
    return {"net_get": net.req("GET", f"/v2.0/networks/{nid}"),
            "net_create": net.req("POST", "/v2.0/networks", {"network": {"name": "profile"}}, 201),
            "port_create": net.req("POST", "/v2.0/ports", {"port": {"network_id": nid}}, 201),
            "port_list": net.req("GET", f"/v2.0/ports?network_id={nid}")}[op]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("op", choices=("issue", "validate", "projects", *NET_OPS))
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--gil", action="store_true", help="sample only the thread holding the GIL")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", help="keep the folded stacks here")
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not spy:
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    kumo = Kumo()
    tmp = Path(tempfile.mkdtemp(prefix="kumo-profile-"))
    try:
        admin, subject = kumo.token(), kumo.token()
        if args.op in NET_OPS:
            req = network_request(kumo, admin, args.op)
        else:
            req = {"issue": kumo.issue_request(),
                   "validate": Request("GET", kumo.v3 + "/auth/tokens",
                                       {"X-Auth-Token": admin, "X-Subject-Token": subject}),
                   "projects": Request("GET", kumo.v3 + "/projects", {"X-Auth-Token": admin})}[args.op]
        folded = Path(args.out) if args.out else tmp / "stacks.txt"
        cmd = [spy, "record", "-p", str(kumo.pids()[0]), "-d", str(int(args.seconds + 2)), "-r", "200",
               "-f", "raw", "-o", str(folded), *(["--gil"] if args.gil else [])]
        recorder = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1)
            row = loadgen.run(req, args.clients, args.seconds, 10**7, server_cpu=kumo.cpu_seconds)
            recorder.wait(timeout=60)
        finally:
            if recorder.poll() is None:
                recorder.kill()
                recorder.wait()
        print(f"{args.op}: {row['ops_per_s']}/s, p50 {row['p50_ms']} ms, server CPU "
              f"{row['server_cpu_ms_per_req']} ms per request (py-spy attached: a little slower)\n")
        print(summarize(folded, args.top))
    finally:
        kumo.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
