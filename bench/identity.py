"""Identity benchmark: Kumo, and side by side the real Keystone (``--peer DIR``).

    .venv/bin/python bench/identity.py [--seconds 5] [--json] [--peer DIR] [--url URL --password PW]

Measures, for each target, with 1 and 8 concurrent clients (closed loop, keep-alive, loopback):
token issue (password auth, project scope), token validation (GET /v3/auth/tokens with
X-Subject-Token), GET /v3/projects, and GET /v3 (the version document: no token, no database, so
what the HTTP stack alone costs): throughput, p50/p99 latency, and the CPU each request costs
the server and the client. Then cold start (process start to first good /healthz and first token,
on an empty data dir and on an existing one) and resident memory, idle and after the load.
Figures and how to read them: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson  # noqa: E402

import loadgen  # noqa: E402
from loadgen import Request  # noqa: E402
from targets import Keystone, Kumo, kumo_cold_start  # noqa: E402

OPS = (("issue", "token issue (POST /v3/auth/tokens, password)"),
       ("validate", "token validate (GET /v3/auth/tokens)"),
       ("projects", "GET /v3/projects"),
       ("version", "GET /v3 (no auth, no database: the HTTP stack's floor)"))


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))
    return {"cpus": os.cpu_count(), "cpu_model": model, "memory_gib": round(mem_kib / 2**20, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "pythondontwritebytecode": bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))}


def seed_projects(target, token: str, total: int) -> list[str]:
    """Create projects until the admin's list holds ``total`` (the same list size on every target)."""
    headers = {"X-Auth-Token": token, "Content-Type": "application/json"}
    status, body, _ = loadgen.call(Request("GET", target.v3 + "/projects", headers))
    have = len(body["projects"]) if status == 200 else 0
    tag, made = uuid.uuid4().hex[:8], []
    for i in range(max(0, total - have)):
        payload = orjson.dumps({"project": {"name": f"bench-{tag}-{i}", "domain_id": "default",
                                            "description": "identity benchmark"}})
        status, body, _ = loadgen.call(Request("POST", target.v3 + "/projects", headers, payload))
        if status != 201:
            raise RuntimeError(f"{target.name}: project create answered {status}: {body}")
        made.append(body["project"]["id"])
    return made


def unseed_projects(target, token: str, ids: list[str]) -> None:
    for pid in ids:
        loadgen.call(Request("DELETE", f"{target.v3}/projects/{pid}", {"X-Auth-Token": token}))


class Subject:
    """One target being measured: its result record, tokens, seeded projects and requests."""

    def __init__(self, target, args):
        self.target = target
        self.res = {"info": target.info, "memory_idle": target.memory(), "ops": {}}
        self.admin = target.token()
        subject = target.token()
        self.seeded = seed_projects(target, self.admin, args.projects)
        status, body, _ = loadgen.call(Request("GET", target.v3 + "/projects", {"X-Auth-Token": self.admin}))
        self.res["projects_listed"] = len(body["projects"]) if status == 200 else None
        self.requests = {
            "issue": target.issue_request(),
            "validate": Request("GET", target.v3 + "/auth/tokens",
                                {"X-Auth-Token": self.admin, "X-Subject-Token": subject}),
            "projects": Request("GET", target.v3 + "/projects", {"X-Auth-Token": self.admin}),
            "version": Request("GET", target.v3),
        }

    def finish(self) -> dict:
        unseed_projects(self.target, self.admin, self.seeded)
        self.res["memory_after"] = self.target.memory()
        return self.res


def measure(subjects: list[Subject], args) -> None:
    """Every operation and concurrency, the targets back to back (so they share the machine's mood)."""
    for op, _ in OPS:
        for clients in args.clients:
            for sub in subjects:
                quiet = loadgen.wait_quiet(args.settle) if args.settle else {}
                row = loadgen.run(sub.requests[op], clients, args.seconds, args.max_requests, args.client,
                                  server_cpu=sub.target.cpu_seconds)
                row.update(quiet)
                sub.res["ops"][f"{op}/{clients}"] = row
                log(f"  {sub.target.name:8s} {op:9s} c={clients:<2d} {row['ops_per_s']:>8} /s  "
                    f"p50 {row['p50_ms']} ms  p99 {row['p99_ms']} ms  n={row['n']} err={row['errors']}  "
                    f"cpu: server {row.get('server_cpu_pct')}%, client {row['client_cpu_pct']}%, "
                    f"other {row.get('other_cpu_pct')}%"
                    + (f" (waited {quiet['waited_s']} s for quiet: {quiet['load_before_pct']}%)" if quiet else "")
                    + (f"  first errors: {row['first_errors']}" if row.get("first_errors") else ""))


def median_of(runs: list[dict], key: str):
    values = [r[key] for r in runs if r.get(key) is not None]
    return round(statistics.median(values), 3) if values else None


def ratio(a, b) -> str:
    if a is None or b is None or not b:
        return "—"
    r = a / b
    return f"{r:.0f}×" if r >= 10 else f"{r:.2f}×" if r < 1 else f"{r:.1f}×"


def fmt(value, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and value >= 100:
        value = round(value)
    return f"{value}{unit}"


def report(out: dict) -> str:
    kumo, ks = out["kumo"], out.get("keystone")
    lines = []
    lines.append("| operation | clients | Kumo /s | Kumo p50 ms | Kumo p99 ms"
                 + (" | Keystone /s | Keystone p50 ms | Keystone p99 ms | throughput Kumo/Keystone" if ks else "")
                 + " |")
    lines.append("|---|---:|---:|---:|---:" + ("|---:|---:|---:|---:" if ks else "") + "|")
    for op, label in OPS:
        for clients in out["clients"]:
            k = kumo["ops"][f"{op}/{clients}"]
            row = f"| {label} | {clients} | {fmt(k['ops_per_s'])} | {fmt(k['p50_ms'])} | {fmt(k['p99_ms'])}"
            if ks:
                p = ks["ops"][f"{op}/{clients}"]
                row += (f" | {fmt(p['ops_per_s'])} | {fmt(p['p50_ms'])} | {fmt(p['p99_ms'])}"
                        f" | {ratio(k['ops_per_s'], p['ops_per_s'])}")
            lines.append(row + " |")
    lines.append("")
    lines.append("| CPU per request, ms (and other processes' load, % of a core) | clients | Kumo server | Kumo client"
                 " | other" + (" | Keystone server | Keystone client | other | server CPU Keystone/Kumo"
                               if ks else "") + " |")
    lines.append("|---|---:|---:|---:|---:" + ("|---:|---:|---:|---:" if ks else "") + "|")
    for op, label in OPS:
        for clients in out["clients"]:
            row = f"| {label} | {clients}"
            for res in (kumo, ks) if ks else (kumo,):
                r = res["ops"][f"{op}/{clients}"]
                row += (f" | {fmt(r.get('server_cpu_ms_per_req'))} | {fmt(r['client_cpu_ms_per_req'])}"
                        f" | {fmt(r.get('other_cpu_pct'), '%')}")
            if ks:
                row += " | " + ratio(ks["ops"][f"{op}/{clients}"].get("server_cpu_ms_per_req"),
                                     kumo["ops"][f"{op}/{clients}"].get("server_cpu_ms_per_req"))
            lines.append(row + " |")
    lines.append("")
    cold = out.get("cold") or {}
    kc = ks["info"]["cold"] if ks else {}
    rows = []
    if cold:
        for kind, dir_label in (("empty", "empty data dir"), ("existing", "existing data dir")):
            rows.append((f"cold start, {dir_label} → first answer, GET /identity/v3 (s)",
                         median_of(cold[kind], "answer_s"), kc.get(f"{kind}_s")))
            rows.append((f"cold start, {dir_label} → first token (s)", median_of(cold[kind], "token_s"), None))
            rows.append((f"cold start, {dir_label} → ready, /healthz 200 (s)", median_of(cold[kind], "healthz_s"),
                         None))
            rows.append((f"CPU of the server to its first answer, {dir_label} (s)",
                         median_of(cold[kind], "cpu_answer_s"), None))
        rows.append(("RSS at ready, existing data dir (MiB)", median_of(cold["existing"], "rss_healthz_mib"), None))
    rows.append(("RSS idle: started on an empty data dir, no request yet (MiB)", kumo["memory_idle"]["rss_mib"],
                 ks["memory_idle"]["rss_mib"] if ks else None))
    rows.append(("RSS after the load (MiB)", kumo["memory_after"]["rss_mib"],
                 ks["memory_after"]["rss_mib"] if ks else None))
    rows.append(("PSS after the load (MiB)", kumo["memory_after"]["pss_mib"],
                 ks["memory_after"]["pss_mib"] if ks else None))
    lines.append("| start and memory | Kumo" + (" | Keystone | Kumo/Keystone" if ks else "") + " |")
    lines.append("|---|---:" + ("|---:|---:" if ks else "") + "|")
    for label, k, p in rows:
        lines.append(f"| {label} | {fmt(k)}" + (f" | {fmt(p)} | {ratio(k, p)}" if ks else "") + " |")
    return "\n".join(lines)


def text(out: dict) -> str:
    m = out["machine"]
    lines = [f"{m['date']}  {m['cpus']} x {m['cpu_model']}, {m['memory_gib']} GiB, Linux {m['kernel']}, "
             f"Python {m['python']}; {out['seconds']:g} s per measurement, client {out['client']}", "",
             report(out)]
    if out.get("keystone"):
        info = out["keystone"]["info"]
        lines += ["", f"Keystone {info.get('version')} under uWSGI ({info['url']}), cache "
                      f"{'on' if info['cache'] else 'off'}; its cold start is start-peers.sh's record "
                      f"(db_sync + fernet/credential setup + bootstrap {info['cold'].get('db_setup_s')} s, "
                      f"then uWSGI → first GET /v3 {info['cold'].get('existing_s')} s)."]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5, help="duration of each measurement (default 5)")
    parser.add_argument("--max-requests", type=int, default=50000,
                        help="request budget of each measurement, shared by its clients (default 50000)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8], help="concurrencies (default 1 8)")
    parser.add_argument("--projects", type=int, default=20,
                        help="make the admin's project list this long on every target (default 20)")
    parser.add_argument("--settle", type=float, default=30,
                        help="before each measurement, wait up to this many seconds for the machine to be "
                             "idle (it is shared; default 30, 0 = don't wait)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of tables")
    parser.add_argument("--url", help="measure the Kumo already serving at this URL (loopback) instead of "
                                      "starting one; needs --password")
    parser.add_argument("--password", help="the admin password of --url")
    parser.add_argument("--peer", metavar="DIR", help="also measure the real Keystone of "
                        "/work/shared/peers/start-peers.sh DIR (started if not serving, stopped at the end)")
    parser.add_argument("--peer-cache", type=int, choices=(0, 1), default=1,
                        help="when starting the peer: Keystone's in-process cache on (1, default) or off")
    parser.add_argument("--keep-peer", action="store_true", help="leave a peer started here running")
    parser.add_argument("--coldstart-runs", type=int, default=3, help="cold starts of each kind (default 3; 0 skips)")
    parser.add_argument("--client", choices=("http.client", "httpx"), default="http.client",
                        help="load generator's HTTP client (default: the standard library's, the cheapest)")
    parser.add_argument("--render", metavar="JSON", help="print the tables of an earlier --json output and stop")
    args = parser.parse_args(argv)
    if args.render:
        print(text(json.loads(Path(args.render).read_text())))
        return 0

    out = {"machine": machine(), "command": " ".join([Path(sys.executable).name, *sys.argv]),
           "seconds": args.seconds, "clients": args.clients, "client": args.client,
           "projects": args.projects}
    peer = None
    kumo = None
    try:
        if args.peer:  # first: the first install takes minutes, better known early
            peer = Keystone(args.peer, cache=bool(args.peer_cache), keep=args.keep_peer, log=log)
        if args.coldstart_runs:
            log(f"== Kumo cold start x{args.coldstart_runs} (empty data dir, then the same dir again)")
            out["cold"] = kumo_cold_start(args.coldstart_runs,
                                          before=(lambda: loadgen.wait_quiet(args.settle)) if args.settle else None)
            for kind in ("empty", "existing"):
                log(f"  {kind:8s} " + "  ".join(f"answer {r['answer_s']} s token {r['token_s']} s "
                                               f"ready {r['healthz_s']} s"
                                               for r in out["cold"][kind]))
        t0 = time.monotonic()
        kumo = Kumo(args.url, args.password)
        out["kumo_start_s"] = round(time.monotonic() - t0, 3)
        log(f"== Kumo at {kumo.base}" + (f", Keystone at {peer.base}" if peer else ""))
        subjects = []
        try:
            for target in [kumo] + ([peer] if peer else []):
                subjects.append(Subject(target, args))
            measure(subjects, args)
        finally:
            results = [sub.finish() for sub in subjects]
        out["kumo"] = results[0]
        if peer is not None:
            out["keystone"] = results[1]
    finally:
        if kumo is not None:
            kumo.close()
        if peer is not None:
            peer.close()
    print(json.dumps(out, indent=1) if args.json else text(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
