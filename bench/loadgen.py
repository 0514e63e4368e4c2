"""A small closed-loop HTTP load generator: N client processes, one keep-alive connection each.

Each client is its own process (no GIL shared between clients), sends one request, waits for the
answer, sends the next, until the phase's deadline or its share of the request budget. It reports
every latency, its errors and its own CPU time, so the caller can tell whether the client or the
server was the bottleneck. The default client is the standard library's ``http.client`` (keep-alive,
about 0.6 ms of CPU per request here, a third of httpx's); ``httpx`` is there to cross-check.
Loopback only: the callers build targets from 127.0.0.1 URLs.
"""

from __future__ import annotations

import http.client
import multiprocessing as mp
import statistics
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import orjson
import psutil


@dataclass(frozen=True)
class Request:
    """One kind of request, repeated: the same method, path, headers and body every time."""
    method: str
    url: str  # absolute: http://127.0.0.1:PORT/path
    headers: dict = field(default_factory=dict)
    body: bytes | None = None
    expect: int = 200

    @property
    def path(self) -> str:
        parts = urlsplit(self.url)
        return parts.path + ("?" + parts.query if parts.query else "")


class Connection:
    """A keep-alive connection; reconnects when the server closes (uWSGI sends ``Connection: close``)."""

    def __init__(self, url: str, client: str = "http.client", timeout: float = 120):
        parts = urlsplit(url)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"loopback targets only, not {parts.hostname}")
        self.client = client
        if client == "httpx":
            import httpx
            self._httpx = httpx.Client(timeout=timeout)
        else:
            self._conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)

    def send(self, req: Request, headers: dict | None = None, body: bytes | None = None) -> tuple[int, bytes]:
        headers = headers if headers is not None else req.headers
        body = body if body is not None else req.body
        if self.client == "httpx":
            resp = self._httpx.request(req.method, req.url, headers=headers, content=body)
            return resp.status_code, resp.content
        try:
            self._conn.request(req.method, req.path, body=body, headers=headers)
            resp = self._conn.getresponse()
        except (ConnectionError, http.client.RemoteDisconnected, http.client.CannotSendRequest):
            self._conn.close()  # the server dropped an idle socket: one retry on a fresh one
            self._conn.request(req.method, req.path, body=body, headers=headers)
            resp = self._conn.getresponse()
        return resp.status, resp.read()

    def close(self) -> None:
        (self._httpx if self.client == "httpx" else self._conn).close()


def call(req: Request, headers: dict | None = None, body: bytes | None = None) -> tuple[int, dict | None, dict]:
    """One request on a fresh connection: (status, parsed JSON body or None, response headers)."""
    parts = urlsplit(req.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        conn.request(req.method, req.path, body=body if body is not None else req.body,
                     headers=headers if headers is not None else req.headers)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            parsed = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            parsed = None
        return resp.status, parsed, {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def _client(req: Request, client: str, seconds: float, budget: int, go, out) -> None:
    """One client process: warm the connection, wait for the start, loop, report."""
    lat: list[float] = []
    errors: list[str] = []
    conn = Connection(req.url, client)
    try:
        conn.send(req)  # opens the connection; not measured
    except Exception as exc:  # noqa: BLE001 - reported, not raised, so the phase ends cleanly
        errors.append(repr(exc)[:200])
    go.wait(60)
    cpu0, start = time.process_time(), time.monotonic()
    deadline = start + seconds
    now = start
    while now < deadline and len(lat) + len(errors) < budget:
        try:
            status, content = conn.send(req)
            if status != req.expect:
                errors.append(f"{status} {content[:160]!r}")
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc)[:200])
            status = None
        end = time.monotonic()
        if status == req.expect:
            lat.append(end - now)
        now = end
    conn.close()
    out.put({"lat": lat, "errors": len(errors), "first_errors": errors[:3], "start": start, "end": now,
             "cpu": time.process_time() - cpu0})


def _busy() -> float:
    """CPU seconds the whole machine has spent busy (all cores)."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0)


def wait_quiet(max_wait: float, threshold_pct: float = 25.0) -> dict:
    """Wait (at most ``max_wait`` s) for a second in which the machine is nearly idle: on a shared
    box, other people's work would otherwise be measured too. Returns how long it waited and the
    load (% of one core) of the last second."""
    t0 = time.monotonic()
    while True:
        b0 = _busy()
        time.sleep(1.0)
        load = (_busy() - b0) * 100
        waited = time.monotonic() - t0
        if load < threshold_pct or waited >= max_wait:
            return {"waited_s": round(waited, 1), "load_before_pct": round(load, 1)}


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), int(-(-p * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


def run(req: Request, clients: int, seconds: float, max_requests: int, client: str = "http.client",
        server_cpu=None) -> dict:
    """Drive ``req`` with ``clients`` concurrent clients for ``seconds`` (or ``max_requests`` in all).

    ``server_cpu``: a callable returning the server's CPU seconds so far (user + system, all its
    processes), to report what each request costs the server."""
    ctx = mp.get_context("fork")
    go, out = ctx.Event(), ctx.Queue()
    budget = max(1, max_requests // clients)
    procs = [ctx.Process(target=_client, args=(req, client, seconds, budget, go, out), daemon=True)
             for _ in range(clients)]
    for proc in procs:
        proc.start()
    time.sleep(0.2)  # let every client open its connection before the start
    srv0 = server_cpu() if server_cpu else None
    busy0 = _busy()
    go.set()
    results = []
    try:
        for _ in procs:
            results.append(out.get(timeout=seconds + 180))
    finally:
        for proc in procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join()
    srv1 = server_cpu() if server_cpu else None
    busy = _busy() - busy0
    lat = sorted(x for r in results for x in r["lat"])
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    n = len(lat)
    client_cpu = sum(r["cpu"] for r in results)
    res = {
        "clients": clients, "n": n, "errors": sum(r["errors"] for r in results),
        "ops_per_s": round(n / wall, 1) if wall > 0 else None,
        "p50_ms": round(percentile(lat, 50) * 1000, 2) if n else None,
        "p99_ms": round(percentile(lat, 99) * 1000, 2) if n else None,
        "mean_ms": round(statistics.fmean(lat) * 1000, 2) if n else None,
        "max_ms": round(lat[-1] * 1000, 2) if n else None,
        "wall_s": round(wall, 2),
        "client_cpu_ms_per_req": round(client_cpu / n * 1000, 3) if n else None,
        "client_cpu_pct": round(client_cpu / wall * 100, 1) if wall > 0 else None,
    }
    if srv0 is not None and srv1 is not None:
        res["server_cpu_ms_per_req"] = round((srv1 - srv0) / n * 1000, 3) if n else None
        res["server_cpu_pct"] = round((srv1 - srv0) / wall * 100, 1) if wall > 0 else None
        # what else ran on the machine meanwhile (other processes: noise), in % of one core
        res["other_cpu_pct"] = round(max(0.0, busy - (srv1 - srv0) - client_cpu) / wall * 100, 1) \
            if wall > 0 else None
    first = [e for r in results for e in r["first_errors"]]
    if first:
        res["first_errors"] = first[:3]
    return res
