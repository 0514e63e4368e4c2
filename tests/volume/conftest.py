"""Block-storage test helpers: a throwaway project with a member user, and clients acting as it."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import httpx
import openstack
import pytest
import yaml

from tests.conftest import BIN


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Tenant:
    """A project of its own with a member user: the openstack CLI, openstacksdk and raw HTTP as that user."""

    def __init__(self, cloud, tmp_path, admin_conn):
        self.cloud = cloud
        self.admin_conn = admin_conn
        self.project = admin_conn.identity.create_project(name=unique("volproj"), domain_id="default")
        self.password = unique("pw")
        self.user = admin_conn.identity.create_user(name=unique("voluser"), domain_id="default",
                                                    password=self.password, default_project_id=self.project.id)
        member = admin_conn.identity.find_role("member")
        admin_conn.identity.assign_project_role_to_user(self.project, self.user, member)
        self.project_id = self.project.id
        self.clouds = tmp_path / "clouds.yaml"
        auth = {"auth_url": cloud.identity_url, "username": self.user.name, "password": self.password,
                "project_name": self.project.name, "user_domain_name": "Default", "project_domain_name": "Default"}
        self.clouds.write_text(yaml.safe_dump({"clouds": {"vol": {
            "auth": auth, "region_name": "RegionOne", "interface": "public", "identity_api_version": 3}}}))
        self.token = cloud.token(self.user.name, self.password, project=self.project.name)
        self.http = cloud.http(self.token)
        self.base = f"/volume/v3/{self.project_id}"

    def cli(self, *args: str, check: bool = True):
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(OS_CLIENT_CONFIG_FILE=str(self.clouds), OS_CLOUD="vol")
        proc = subprocess.run([str(BIN / "openstack"), *args], env=env, capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"openstack {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        if "json" in args and proc.returncode == 0 and proc.stdout.strip():
            return json.loads(proc.stdout)
        return proc

    def sdk(self):
        return openstack.connect(auth_url=self.cloud.identity_url, username=self.user.name, password=self.password,
                                 project_name=self.project.name, user_domain_name="Default",
                                 project_domain_name="Default", region_name="RegionOne")

    # -- raw HTTP ----------------------------------------------------------------------------
    def create_volume(self, wait: str | None = "available", **attrs) -> dict:
        attrs.setdefault("size", 1)
        resp = self.http.post(f"{self.base}/volumes", json={"volume": attrs})
        assert resp.status_code == 202, resp.text
        volume = resp.json()["volume"]
        return self.wait_volume(volume["id"], wait) if wait else volume

    def wait_volume(self, volume_id: str, status: str, timeout: float = 30) -> dict:
        return self._wait("volumes", "volume", volume_id, status, timeout)

    def wait_snapshot(self, snapshot_id: str, status: str, timeout: float = 30) -> dict:
        return self._wait("snapshots", "snapshot", snapshot_id, status, timeout)

    def _wait(self, collection: str, key: str, ident: str, status: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            resp = self.http.get(f"{self.base}/{collection}/{ident}")
            if status == "gone" and resp.status_code == 404:
                return {}
            assert resp.status_code == 200, resp.text
            body = resp.json()[key]
            if body["status"] == status:
                return body
            assert body["status"] not in ("error", "error_deleting", "error_extending"), body
            assert time.monotonic() < deadline, f"{key} {ident} stuck in {body['status']}, wanted {status}"
            time.sleep(0.05)

    def cleanup(self) -> None:
        """Delete what the project holds (snapshots first), wait for it, then the user and project."""
        snaps = self.http.get(f"{self.base}/snapshots").json()["snapshots"]
        for snap in snaps:
            self.http.delete(f"{self.base}/snapshots/{snap['id']}")
        for snap in snaps:
            self.wait_snapshot(snap["id"], "gone")
        vols = self.http.get(f"{self.base}/volumes/detail").json()["volumes"]
        admin = self.cloud.http(self.cloud.token())
        admin_pid = _project_of(admin)
        for vol in vols:
            if vol["status"] not in ("available", "error"):
                admin.post(f"/volume/v3/{admin_pid}/volumes/{vol['id']}/action",
                           json={"os-reset_status": {"status": "available", "attach_status": "detached"}})
            self.http.delete(f"{self.base}/volumes/{vol['id']}")
        for vol in vols:
            self.wait_volume(vol["id"], "gone")
        self.admin_conn.identity.delete_user(self.user)
        self.admin_conn.identity.delete_project(self.project)


def _project_of(client: httpx.Client) -> str:
    token = client.headers["X-Auth-Token"]
    resp = client.get("/identity/v3/auth/tokens", headers={"X-Subject-Token": token})
    return resp.json()["token"]["project"]["id"]


@pytest.fixture(scope="module")
def admin_conn(cloud):
    return cloud.sdk()


@pytest.fixture(scope="module")
def tenant(cloud, admin_conn, tmp_path_factory):
    t = Tenant(cloud, tmp_path_factory.mktemp("vol"), admin_conn)
    yield t
    t.cleanup()


@pytest.fixture
def new_tenant(cloud, admin_conn, tmp_path):
    """A tenant of this test only (quotas)."""
    made = []

    def make():
        where = tmp_path / str(len(made))
        where.mkdir()
        made.append(Tenant(cloud, where, admin_conn))
        return made[-1]

    yield make
    for t in made:
        t.cleanup()


@pytest.fixture(scope="module")
def admin_project(cloud) -> str:
    return _project_of(cloud.http(cloud.token()))
