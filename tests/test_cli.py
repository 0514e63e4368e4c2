"""The ``kumo`` command: help, version, status, reset, settings, and what ``kumo serve`` tells the user."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import openstack
import pytest
import yaml

import kumo
from kumo import config, testing

BIN = Path(sys.executable).parent


def kumo_cmd(*args: str, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KUMO_")}
    return subprocess.run([sys.executable, "-m", "kumo", *args], capture_output=True, text=True, timeout=60,
                          env={**clean, **(env or {})}, stdin=subprocess.DEVNULL, cwd=cwd)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A Kumo of this module's own (its counts and its data directory are ours to inspect and wipe).
    The reset test, last in the file, stops and wipes it."""
    server = testing.start(tmp_path_factory.mktemp("cli") / "data")
    yield server
    server.stop()


# -- help and version ------------------------------------------------------------------------------

def test_help_lists_the_commands():
    proc = kumo_cmd("--help")
    assert proc.returncode == 0
    for command in ("serve", "status", "reset", "rotate-keys", "version"):
        assert command in proc.stdout
    bare = kumo_cmd()
    assert bare.returncode == 2 and "usage: kumo" in bare.stdout


def test_version():
    for args in (("version",), ("--version",)):
        proc = kumo_cmd(*args)
        assert proc.returncode == 0 and proc.stdout == f"kumo {kumo.__version__}\n"


# -- status ----------------------------------------------------------------------------------------

def test_status_of_a_running_cloud(served):
    where = ("--data-dir", str(served.data_dir), "--port", str(served.port))
    proc = kumo_cmd("status", *where, "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["up"] is True and info["version"] == kumo.__version__ and info["url"] == served.url
    assert "identity" in info["services"] and info["data_dir"] == str(served.data_dir.resolve())
    admin = admin_client(served)
    for name in ("domains", "projects", "users", "roles"):
        assert info["counts"][name] == len(admin.get(f"/identity/v3/{name}").json()[name]), name
    assert info["counts"]["groups"] == 0
    admin.close()
    text = kumo_cmd("status", *where)
    assert text.returncode == 0
    assert text.stdout.startswith(f"Kumo at {served.url}: up\n")
    assert f"  users: {info['counts']['users']}\n" in text.stdout


def test_status_of_a_stopped_cloud(tmp_path):
    port = str(testing.free_port())
    proc = kumo_cmd("status", "--data-dir", str(tmp_path / "nothing"), "--port", port, "--json")
    assert proc.returncode == 1
    info = json.loads(proc.stdout)
    assert info["up"] is False and "counts" not in info
    text = kumo_cmd("status", "--data-dir", str(tmp_path / "nothing"), "--port", port)
    assert text.returncode == 1 and f"127.0.0.1:{port}: down" in text.stdout


def admin_client(server):
    import httpx

    client = httpx.Client(base_url=server.url, verify=False, timeout=30)
    resp = client.post("/identity/v3/auth/tokens", json={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": server.password()}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
    client.headers["X-Auth-Token"] = resp.headers["X-Subject-Token"]
    return client


# -- serve -----------------------------------------------------------------------------------------

def test_serve_says_how_to_use_it_and_writes_clouds_yaml(served, monkeypatch):
    clouds_file = served.data_dir.resolve() / "clouds.yaml"
    out = served.log()
    assert f"Kumo {kumo.__version__} serving on {served.url}" in out
    assert f"  export OS_CLIENT_CONFIG_FILE={clouds_file}\n" in out
    assert f"admin password (shown once, also in clouds.yaml): {served.password()}" in out
    assert stat.S_IMODE(clouds_file.stat().st_mode) == 0o600
    clouds = yaml.safe_load(clouds_file.read_text())["clouds"]
    assert set(clouds) == {"kumo", "kumo-admin"}
    assert clouds["kumo"]["auth"]["username"] == "demo" and clouds["kumo-admin"]["auth"]["username"] == "admin"
    for entry in clouds.values():
        assert entry["auth"]["auth_url"] == served.url + "/identity/v3" and entry["auth"]["password"]
    # usable as-is: exactly what the printed line says to do
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(clouds_file)
    proc = subprocess.run([str(BIN / "openstack"), "--os-cloud", "kumo", "token", "issue", "-f", "json"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    admin = admin_client(served)
    demo = admin.get("/identity/v3/projects", params={"name": "demo"}).json()["projects"][0]
    admin.close()
    assert json.loads(proc.stdout)["project_id"] == demo["id"]
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds_file))
    conn = openstack.connect(cloud="kumo-admin")
    assert conn.identity.get_project(conn.current_project_id).name == "admin"


def test_status_and_serve_speak_of_every_service(served):
    admin = admin_client(served)
    net = admin.post("/network/v2.0/networks", json={"network": {"name": "status-net"}})
    assert net.status_code == 201, net.text
    try:
        proc = kumo_cmd("status", "--data-dir", str(served.data_dir), "--port", str(served.port), "--json")
        assert proc.returncode == 0, proc.stderr
        counts = json.loads(proc.stdout)["counts"]
        listed = {name: len(admin.get(path).json()[key]) for name, path, key in (
            ("networks", "/network/v2.0/networks", "networks"), ("ports", "/network/v2.0/ports", "ports"),
            ("routers", "/network/v2.0/routers", "routers"),
            ("floating_ips", "/network/v2.0/floatingips", "floatingips"),
            ("images", "/image/v2/images", "images"))}
        assert listed["networks"] >= 1 and listed["images"] >= 1
        for name, count in listed.items():
            assert counts[name] == count, name
        assert counts["volumes"] == 0 and counts["servers"] == {}  # servers by status: none yet
        assert {"projects", "users"} <= set(counts)
        text = kumo_cmd("status", "--data-dir", str(served.data_dir), "--port", str(served.port)).stdout
        assert f"  networks: {listed['networks']}\n" in text and "  servers: 0\n" in text
        # the banner lists every service's catalog URL, as the catalog has it
        catalog = admin.get("/identity/v3/auth/catalog").json()["catalog"]
        banner = served.log().split("  services:", 1)[1].split("  data dir:", 1)[0]
        assert {entry["type"] for entry in catalog} == {"identity", "compute", "image", "block-storage",
                                                        "network"}
        for entry in catalog:
            url = next(e["url"] for e in entry["endpoints"] if e["interface"] == "public")
            project = admin.get("/identity/v3/auth/tokens", headers={
                "X-Subject-Token": admin.headers["X-Auth-Token"]}).json()["token"]["project"]["id"]
            assert f"{entry['type']} " in banner
            assert url.replace(project, "$(project_id)s") in banner, (url, banner)
    finally:
        admin.delete(f"/network/v2.0/networks/{net.json()['network']['id']}")
        admin.close()


# -- reset -----------------------------------------------------------------------------------------

def test_reset_refuses_while_running_then_without_yes_then_wipes(served):
    where = ("--data-dir", str(served.data_dir), "--port", str(served.port))
    running = kumo_cmd("reset", *where, "--yes")
    assert running.returncode == 1 and "Kumo is running" in running.stderr
    assert served.data_dir.exists()
    assert served.stop() == 0  # SIGTERM: a clean stop
    assert not (served.data_dir / "kumo.pid").exists()  # which removes the pid file
    unconfirmed = kumo_cmd("reset", *where)  # stdin is not a terminal
    assert unconfirmed.returncode == 1 and "pass --yes" in unconfirmed.stderr
    assert (served.data_dir / "kumo.db").exists()
    wiped = kumo_cmd("reset", *where, "--yes")
    assert wiped.returncode == 0 and f"Wiped {served.data_dir.resolve()}." in wiped.stdout
    assert not served.data_dir.exists()
    again = kumo_cmd("reset", *where, "--yes")
    assert again.returncode == 0 and "Nothing to reset" in again.stdout


def test_reset_ignores_a_stale_pid_file(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (data / "kumo.pid").write_text(f"{dead.pid}\n5000\n")
    proc = kumo_cmd("reset", "--data-dir", str(data), "--yes")
    assert proc.returncode == 0, proc.stderr
    assert not data.exists()


# -- settings --------------------------------------------------------------------------------------

def test_settings_precedence_defaults_file_environment_flags(tmp_path):
    toml = tmp_path / "kumo.toml"
    toml.write_text('port = 1111\nregion = "FromFile"\ntoken_expiration = 600\n'
                    "[security_compliance]\nlockout_failure_attempts = 3\nlockout_duration = 60\n")
    environ = {"KUMO_CONFIG": str(toml), "KUMO_PORT": "2222", "KUMO_LOCKOUT_DURATION": "30"}

    defaults = config.load({}, environ={})
    assert (defaults.port, defaults.region, defaults.token_expiration) == (5000, "RegionOne", 3600)

    from_file = config.load({}, environ={"KUMO_CONFIG": str(toml)})
    assert (from_file.port, from_file.region, from_file.lockout_failure_attempts) == (1111, "FromFile", 3)

    settings = config.load({}, environ=environ)
    assert settings.port == 2222 and isinstance(settings.port, int)  # the environment beats the file
    assert settings.lockout_duration == 30 and settings.lockout_failure_attempts == 3
    assert settings.token_expiration == 600 and settings.region == "FromFile"

    flagged = config.load({"port": 3333, "host": None}, environ=environ)  # flags beat both; None = not given
    assert flagged.port == 3333 and flagged.host == "127.0.0.1"
    assert flagged.base_url == "http://127.0.0.1:3333"


def test_the_file_in_the_data_dir_is_read_by_default(tmp_path):
    (tmp_path / "kumo.toml").write_text("max_active_keys = 5\n")
    assert config.load({"data_dir": str(tmp_path)}, environ={}).max_active_keys == 5
    assert config.load({}, environ={"KUMO_DATA_DIR": str(tmp_path)}).max_active_keys == 5


def test_unknown_or_missing_settings_file_is_an_error(tmp_path):
    toml = tmp_path / "kumo.toml"
    toml.write_text("port = 1\n[identity]\nlockout_attempts = 2\n")
    with pytest.raises(ValueError, match="unknown settings: lockout_attempts"):
        config.load({"config": str(toml)}, environ={})
    proc = kumo_cmd("status", "--config", str(toml))
    assert proc.returncode == 2 and "unknown settings: lockout_attempts" in proc.stderr
    with pytest.raises(ValueError, match="config file not found"):
        config.load({"config": str(tmp_path / "missing.toml")}, environ={})
    proc = kumo_cmd("serve", "--config", str(tmp_path / "missing.toml"), "--data-dir", str(tmp_path / "d"))
    assert proc.returncode == 2 and "config file not found" in proc.stderr
