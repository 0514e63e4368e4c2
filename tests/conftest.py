"""Fixtures: a live Kumo on a free port, driven through real clients."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest

from kumo import testing

BIN = Path(sys.executable).parent
BATCH_MARK = "==kumo-tests-end-of-command=="


class CliResult(NamedTuple):
    out: str
    err: str
    data: object  # the JSON output, parsed, when the command asked for ``-f json``


class Cloud:
    """A running Kumo and the clients that talk to it."""

    def __init__(self, server: testing.Server):
        self.server = server
        self.url = server.url
        self.identity_url = server.url + "/identity/v3"

    def openstack(self, *args: str, cloud: str = "kumo-admin", check: bool = True, parse: bool = True):
        """Run the stock ``openstack`` CLI; JSON output parsed when ``-f json`` is asked for."""
        env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(self.server.clouds_file), "OS_CLOUD": cloud}
        for key in [k for k in env if k.startswith("OS_") and k not in ("OS_CLIENT_CONFIG_FILE", "OS_CLOUD")]:
            del env[key]
        proc = subprocess.run([str(BIN / "openstack"), *args], env=env, capture_output=True, text=True,
                              timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"openstack {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        if parse and "json" in args and proc.returncode == 0 and proc.stdout.strip():
            return json.loads(proc.stdout)
        return proc

    def openstack_batch(self, *commands, cloud: str = "kumo-admin", env: dict | None = None) -> list[CliResult]:
        """Several ``openstack`` commands in one CLI process (its interactive mode reads them from stdin):
        starting the CLI costs over a second of CPU, a command a few milliseconds. Each command is a string or
        a list of arguments, none blank or with blanks (the interactive mode splits lines at blanks, quoted or
        not); there is no exit status, so each result is its stdout, its stderr (empty unless it failed) and
        its JSON output parsed (``-f json``). ``env`` adds ``OS_*`` variables, e.g. to act as another user
        (in interactive mode, arguments would be read as commands)."""
        commands = [c.split() if isinstance(c, str) else list(c) for c in commands]
        assert not any(not arg or any(ch.isspace() for ch in arg) for c in commands for arg in c), commands
        mark = f"!sh -c 'echo {BATCH_MARK} 1>&2; echo {BATCH_MARK}'"  # after each command, on both streams
        script = "".join(" ".join(c) + "\n" + mark + "\n" for c in commands)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        full_env.update(OS_CLIENT_CONFIG_FILE=str(self.server.clouds_file), OS_CLOUD=cloud, PYTHONUNBUFFERED="1",
                        **(env or {}))
        proc = subprocess.run([str(BIN / "openstack")], input=script, env=full_env, capture_output=True, text=True,
                              timeout=120)
        outs, errs = proc.stdout.split(BATCH_MARK + "\n"), proc.stderr.split(BATCH_MARK + "\n")
        assert len(outs) == len(errs) == len(commands) + 1, (proc.stdout, proc.stderr)
        return [CliResult(out, err.strip(), json.loads(out) if "json" in command and out.strip() else None)
                for command, out, err in zip(commands, outs, errs)]

    def sdk(self, cloud: str = "kumo-admin"):
        import openstack
        os.environ["OS_CLIENT_CONFIG_FILE"] = str(self.server.clouds_file)
        return openstack.connect(cloud=cloud)

    def password(self, cloud: str = "kumo-admin") -> str:
        return self.server.password(cloud)

    def token(self, username: str = "admin", password: str | None = None, project: str | None = "admin",
              scope: dict | None = None) -> str:
        password = password if password is not None else self.password()
        auth = {"identity": {"methods": ["password"], "password": {"user": {
            "name": username, "domain": {"id": "default"}, "password": password}}}}
        if scope is not None:
            auth["scope"] = scope
        elif project:
            auth["scope"] = {"project": {"name": project, "domain": {"id": "default"}}}
        with self.http() as client:
            resp = client.post("/identity/v3/auth/tokens", json={"auth": auth})
        assert resp.status_code == 201, resp.text
        return resp.headers["X-Subject-Token"]

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"X-Auth-Token": token} if token else {}
        # plain HTTP to 127.0.0.1: skip loading the CA bundle (50 ms per client)
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, verify=False)


# Cheap password hashing in test clouds: the tests create and log in hundreds of users, and Argon2 at its
# production cost takes 50 ms of CPU for each hash or check (the hashes are self-describing either way).
FAST_HASHING = {"KUMO_PASSWORD_HASH_TIME_COST": "1", "KUMO_PASSWORD_HASH_MEMORY_KIB": "1024"}


@pytest.fixture(scope="session")
def cloud(tmp_path_factory):
    """One Kumo for the whole session, configured as the interop tests expect."""
    server = testing.start(tmp_path_factory.mktemp("kumo"), env={**FAST_HASHING, **testing.INTEROP_SETTINGS})
    yield Cloud(server)
    server.destroy()


@pytest.fixture
def fresh_cloud(tmp_path):
    """A Kumo of one's own (restarts, kills, resets)."""
    servers = []

    def start(**kw):
        kw["env"] = {**FAST_HASHING, **(kw.get("env") or {})}
        server = testing.start(tmp_path / "data", **kw)
        servers.append(server)
        return Cloud(server)

    yield start
    for server in servers:
        server.stop()
    if servers:
        testing.wipe(tmp_path / "data", servers[-1].env)


@pytest.fixture
def admin(cloud):
    return cloud.http(cloud.token())


@pytest.fixture(scope="session")
def local(cloud):
    """The session cloud's local compute driver, to look inside its real instances (skips on another backend)."""
    from kumo.compute.drivers.local import LocalDriver
    from kumo.config import Settings

    backend = httpx.get(cloud.url + "/healthz").json().get("backend")
    if backend != "local":
        pytest.skip(f"this Kumo runs the {backend} backend, not the local one")
    return LocalDriver(Settings(data_dir=cloud.server.data_dir))
