"""Start a real ``kumo serve`` on a free port and wait for it (tests, the interop harness, benchmarks)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# Settings the Tempest configuration expects (see ../shared/interop/README.md).
INTEROP_SETTINGS = {
    "KUMO_LOCKOUT_FAILURE_ATTEMPTS": "2",
    "KUMO_LOCKOUT_DURATION": "5",
    "KUMO_UNIQUE_LAST_PASSWORD_COUNT": "2",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    data_dir: Path
    port: int
    process: subprocess.Popen
    log_path: Path
    env: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def clouds_file(self) -> Path:
        return self.data_dir / "clouds.yaml"

    def password(self, cloud: str = "kumo-admin") -> str:
        return yaml.safe_load(self.clouds_file.read_text())["clouds"][cloud]["auth"]["password"]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def destroy(self) -> None:
        """Stop the server and wipe its data dir with everything it made outside it (its log is
        first copied into the folder ``KUMO_KEEP_LOGS`` names, when set)."""
        self.stop()
        if os.environ.get("KUMO_KEEP_LOGS"):
            import shutil
            shutil.copyfile(self.log_path, Path(os.environ["KUMO_KEEP_LOGS"]) / self.log_path.name)
        wipe(self.data_dir, self.env)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def wipe(data_dir: Path, env: dict | None = None) -> None:
    """``kumo reset --yes``: remove every instance, mount, loop device and file the cloud made there."""
    if Path(data_dir).exists():
        subprocess.run([sys.executable, "-m", "kumo", "reset", "--yes", "--data-dir", str(data_dir)],
                       env={**os.environ, **(env or {})}, capture_output=True, timeout=120)


def start(data_dir: Path, port: int | None = None, env: dict | None = None, timeout: float = 30,
          args: tuple[str, ...] = ()) -> Server:
    """Run ``kumo serve`` in the background; return once ``/healthz`` answers 200: every service started, the
    builtin images registered (identity answers earlier; ``/healthz`` is 503 until then)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    full_env = {**os.environ, "KUMO_LOG_LEVEL": "warning", **(env or {})}
    log_path = data_dir / f"serve-{port}.log"
    log = log_path.open("ab")
    process = subprocess.Popen([sys.executable, "-m", "kumo", "serve", "--data-dir", str(data_dir),
                                "--port", str(port), *args], stdout=log, stderr=subprocess.STDOUT,
                               env=full_env, start_new_session=True)
    server = Server(data_dir, port, process, log_path, env or {})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"kumo serve exited with {process.returncode}:\n{server.log()}")
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=1):
                return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"kumo serve did not answer within {timeout}s:\n{server.log()}")


def wait_for(predicate, what: str = "condition", timeout: float = 15.0, interval: float = 0.05):
    """``predicate()``'s first true value, polled every ``interval`` s; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)
