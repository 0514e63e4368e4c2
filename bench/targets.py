"""What the benchmark measures: a Kumo (its own, or one at --url) and the real Keystone peer.

A target knows its identity endpoint, the admin credentials, and the processes that serve it
(for CPU and memory). Kumo is started with ``kumo.testing.start``; the Keystone peer with the
shared ``start-peers.sh`` (and stopped with ``stop-peers.sh``) — its scripts are called, not copied.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import psutil

from loadgen import Request, call

PEERS = Path(os.environ.get("KUMO_PEERS_DIR", "/work/shared/peers"))


class Target:
    name = "?"

    def __init__(self, base: str, v3: str, password: str, user: str = "admin", project: str = "admin"):
        self.base, self.v3 = base.rstrip("/"), v3.rstrip("/")
        self.user, self.password, self.project = user, password, project
        self.info: dict = {}

    # -- requests ---------------------------------------------------------
    def auth_body(self) -> bytes:
        return orjson.dumps({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": self.user, "domain": {"name": "Default"}, "password": self.password}}},
            "scope": {"project": {"name": self.project, "domain": {"name": "Default"}}}}})

    def issue_request(self) -> Request:
        return Request("POST", self.v3 + "/auth/tokens", {"Content-Type": "application/json"},
                       self.auth_body(), expect=201)

    def token(self) -> str:
        status, body, headers = call(self.issue_request())
        if status != 201:
            raise RuntimeError(f"{self.name}: token issue answered {status}: {body}")
        return headers["x-subject-token"]

    # -- processes ----------------------------------------------------------
    def pids(self) -> list[int]:
        raise NotImplementedError

    def _procs(self) -> list[psutil.Process]:
        procs = []
        for pid in self.pids():
            try:
                proc = psutil.Process(pid)
                procs.append(proc)
                procs.extend(proc.children(recursive=True))
            except psutil.NoSuchProcess:
                pass
        return list({p.pid: p for p in procs}.values())

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self._procs():
            try:
                t = proc.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    def memory(self) -> dict:
        """RSS (what the brief asks) and PSS (shared pages split, fair to multi-process servers), MiB."""
        procs = []
        for proc in self._procs():
            try:
                mem = proc.memory_full_info()
                procs.append({"pid": proc.pid, "rss_mib": round(mem.rss / 2**20, 1),
                              "pss_mib": round(getattr(mem, "pss", mem.rss) / 2**20, 1)})
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return {"rss_mib": round(sum(p["rss_mib"] for p in procs), 1),
                "pss_mib": round(sum(p["pss_mib"] for p in procs), 1), "processes": procs}

    def close(self) -> None:
        pass


def listening_pid(url: str) -> int | None:
    port = urlsplit(url).port
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            return conn.pid
    return None


class Kumo(Target):
    name = "Kumo"

    def __init__(self, url: str | None = None, password: str | None = None):
        self.server = self.tmp = None
        if url is None:
            from kumo import testing
            self.tmp = tempfile.mkdtemp(prefix="kumo-bench-")
            try:
                self.server = testing.start(Path(self.tmp) / "data")
            except BaseException:
                testing.wipe(Path(self.tmp) / "data")
                shutil.rmtree(self.tmp, ignore_errors=True)
                raise
            url, password = self.server.url, self.server.password()
            self._pid = self.server.process.pid
        else:
            if not password:
                raise SystemExit("--url needs --password (the admin password)")
            self._pid = listening_pid(url)
        super().__init__(url, url.rstrip("/") + "/identity/v3", password)
        self.info = {"url": url, "started_here": self.server is not None, "pid": self._pid}

    def pids(self) -> list[int]:
        return [self._pid] if self._pid else []

    def close(self) -> None:
        if self.server is not None:
            self.server.destroy()  # stops it and wipes whatever it made, in the data dir and outside
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def kumo_cold_start(runs: int, before=None) -> dict:
    """Process start -> first answer of the identity API (GET /identity/v3), first good token, and ready
    (/healthz 200: every service started, builtin images registered), on an empty data dir (schema creation,
    keys, bootstrap with its two password hashes) and again on the data dir it left."""
    from kumo import testing

    def poll(until, deadline, proc, server):
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"kumo serve did not come up:\n{server.log()}")
            try:
                if until():
                    return
            except OSError:
                pass
            time.sleep(0.002)

    def ok(url: str) -> bool:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200

    def once(data_dir: Path) -> dict:
        if before is not None:
            before()
        port = testing.free_port()
        log = (data_dir.parent / f"cold-{port}.log").open("ab")
        env = {**os.environ, "KUMO_LOG_LEVEL": "warning"}
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "kumo", "serve", "--data-dir", str(data_dir),
                                 "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        server = testing.Server(data_dir, port, proc, Path(log.name))
        try:
            deadline = t0 + 60
            poll(lambda: ok(server.url + "/identity/v3"), deadline, proc, server)
            answer = time.monotonic() - t0
            cpu = psutil.Process(proc.pid).cpu_times()
            cpu_answer = cpu.user + cpu.system  # less disturbed than wall time by a busy machine
            rss_answer = psutil.Process(proc.pid).memory_info().rss / 2**20
            target = Target(server.url, server.url + "/identity/v3", server.password())
            target.token()
            token = time.monotonic() - t0
            poll(lambda: ok(server.url + "/healthz"), deadline, proc, server)
            ready = time.monotonic() - t0
            rss = psutil.Process(proc.pid).memory_info().rss / 2**20
            cpu = psutil.Process(proc.pid).cpu_times()
            return {"answer_s": round(answer, 3), "token_s": round(token, 3), "healthz_s": round(ready, 3),
                    "cpu_answer_s": round(cpu_answer, 3), "cpu_ready_s": round(cpu.user + cpu.system, 3),
                    "rss_answer_mib": round(rss_answer, 1), "rss_healthz_mib": round(rss, 1)}
        finally:
            server.stop()
            log.close()

    out = {"empty": [], "existing": []}
    for _ in range(runs):
        tmp = Path(tempfile.mkdtemp(prefix="kumo-cold-"))
        try:
            out["empty"].append(once(tmp / "data"))
            out["existing"].append(once(tmp / "data"))
        finally:
            testing.wipe(tmp / "data")  # `kumo reset`: also what it made outside the data dir
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def _openrc(path: Path) -> dict:
    env = {}
    for line in path.read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, value = line[len("export "):].split("=", 1)
            env[key] = value.strip().strip("'\"")
    return env


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status < 500
    except OSError:
        return False


class Keystone(Target):
    """The real Keystone from ``start-peers.sh DIR`` (started here unless already serving)."""
    name = "Keystone"

    def __init__(self, peer_dir: str, cache: bool = True, keep: bool = False, log=print):
        self.dir = Path(peer_dir).resolve()
        self.keep, self.log = keep, log
        self.started_here = False
        port = os.environ.get("KS_PORT", "15000")
        if not _answers(f"http://127.0.0.1:{port}/v3"):
            self.dir.mkdir(parents=True, exist_ok=True)
            logfile = self.dir / "bench-start-peers.log"
            log(f"starting the peers: {PEERS / 'start-peers.sh'} {self.dir} (KS_CACHE={int(cache)}; "
                f"first install ~3.5 min; log {logfile})")
            t0 = time.monotonic()
            with logfile.open("ab") as fh:
                rc = subprocess.run(["bash", str(PEERS / "start-peers.sh"), str(self.dir)], stdout=fh,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=1800,
                                    env={**os.environ, "KS_CACHE": "1" if cache else "0"}).returncode
            if rc != 0:
                raise SystemExit(f"start-peers.sh failed (rc={rc}); see {logfile}")
            self.started_here = True
            log(f"peers up after {time.monotonic() - t0:.0f} s")
        rc = _openrc(self.dir / "admin-openrc")
        auth_url = rc["OS_AUTH_URL"].rstrip("/")
        base = auth_url[: -len("/v3")] if auth_url.endswith("/v3") else auth_url
        super().__init__(base, base + "/v3", rc["OS_PASSWORD"], rc.get("OS_USERNAME", "admin"),
                         rc.get("OS_PROJECT_NAME", "admin"))
        conf = (self.dir / "keystone" / "keystone.conf").read_text()
        cache_on = "[cache]\nenabled = true" in conf
        self.info = {"url": auth_url, "dir": str(self.dir), "started_here": self.started_here,
                     "cache": cache_on, "cold": self.cold_start(),
                     "version": self._version()}

    def _version(self) -> str | None:
        freeze = self.dir / "run" / "freeze-keystone.txt"
        if freeze.exists():
            for line in freeze.read_text().splitlines():
                if line.lower().startswith("keystone=="):
                    return line.split("==", 1)[1]
        return None

    def cold_start(self) -> dict:
        """From start-peers.sh's own record: keystone-manage db_sync/fernet/credential/bootstrap,
        then exec uWSGI -> first 200 on GET /v3 (the database then exists)."""
        path = self.dir / "run" / "coldstart.txt"
        values = {}
        if path.exists():
            for line in path.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 2 and parts[0].startswith("keystone_"):
                    values[parts[0]] = float(parts[1])
        setup, start = values.get("keystone_db_setup_s"), values.get("keystone_coldstart_s")
        return {"db_setup_s": setup, "existing_s": start,
                "empty_s": round(setup + start, 2) if setup is not None and start is not None else None}

    def pids(self) -> list[int]:
        path = self.dir / "run" / "keystone.master.pid"
        return [int(path.read_text().split()[0])] if path.exists() else []

    def close(self) -> None:
        if self.started_here and not self.keep:
            self.log("stopping the peers (stop-peers.sh)")
            subprocess.run(["bash", str(PEERS / "stop-peers.sh"), str(self.dir)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=120)
