"""Compute test helpers: one Kumo on the simulated backend for this package, throwaway projects with a
member and a reader, raw Nova clients acting as them, and waiting for servers."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from kumo import testing

API = "/compute/v2.1"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="package")
def sim(tmp_path_factory):
    """A Kumo of the compute tests' own, on the simulated driver (they never depend on the local one)."""
    from conftest import Cloud  # tests/conftest.py: the clients around a running Kumo

    server = testing.start(tmp_path_factory.mktemp("kumo-compute"),
                           env={**testing.INTEROP_SETTINGS, "KUMO_BACKEND": "simulated"})
    yield Cloud(server)
    server.stop()


@pytest.fixture(scope="package")
def nova_admin(sim):
    client = nova(sim, sim.token())
    yield client
    client.close()


def nova(cloud, token: str, version: str | None = None) -> httpx.Client:
    headers = {"X-Auth-Token": token}
    if version:
        headers["X-OpenStack-Nova-API-Version"] = version
    return httpx.Client(base_url=cloud.url + API, headers=headers, timeout=30)


class Tenant:
    """A project with a member and a reader, each with a Nova client (base ``/compute/v2.1``)."""

    def __init__(self, cloud, roles=("member", "reader")):
        self.cloud = cloud
        admin = cloud.http(cloud.token())
        self._admin = admin
        role_ids = {r["name"]: r["id"] for r in admin.get("/identity/v3/roles").json()["roles"]}
        resp = admin.post("/identity/v3/projects", json={"project": {"name": unique("cmp"), "domain_id": "default"}})
        assert resp.status_code == 201, resp.text
        self.project_id = resp.json()["project"]["id"]
        self.users, self.clients = {}, {}
        for role in roles:
            name, password = unique("u"), unique("pw") + "1"
            resp = admin.post("/identity/v3/users", json={"user": {"name": name, "password": password,
                                                                   "domain_id": "default"}})
            assert resp.status_code == 201, resp.text
            user_id = resp.json()["user"]["id"]
            assert admin.put(f"/identity/v3/projects/{self.project_id}/users/{user_id}/roles/{role_ids[role]}") \
                .status_code == 204
            token = cloud.token(name, password, scope={"project": {"id": self.project_id}})
            self.users[role] = (name, password, user_id, token)
            self.clients[role] = nova(cloud, token)

    @property
    def member(self) -> httpx.Client:
        return self.clients["member"]

    @property
    def reader(self) -> httpx.Client:
        return self.clients["reader"]

    def client(self, role: str = "member", version: str | None = None) -> httpx.Client:
        return nova(self.cloud, self.users[role][3], version)

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        self._admin.close()


@pytest.fixture(scope="module")
def tenant(sim):
    t = Tenant(sim)
    yield t
    t.close()


def images(cloud) -> list[str]:
    """The two busybox images every fresh Kumo registers (ids, sorted by name)."""
    with cloud.http(cloud.token()) as admin:
        found = admin.get("/image/v2/images").json()["images"]
    return [i["id"] for i in sorted(found, key=lambda i: i["name"]) if i["name"].startswith("busybox")]


@pytest.fixture(scope="package")
def image_ids(sim):
    found = images(sim)
    assert len(found) == 2, found
    return found


def wait_status(client: httpx.Client, server_id: str, status: str, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    body = None
    while time.monotonic() < deadline:
        resp = client.get(f"/servers/{server_id}")
        if resp.status_code == 404 and status == "DELETED":
            return {}
        assert resp.status_code == 200, resp.text
        body = resp.json()["server"]
        if body["status"] == status and body["OS-EXT-STS:task_state"] is None:
            return body
        if body["status"] == "ERROR" and status not in ("ERROR", "DELETED"):
            raise AssertionError(f"server {server_id} went to ERROR: {body.get('fault')}")
        time.sleep(0.05)
    raise AssertionError(f"server {server_id} never reached {status}: {body}")


def boot(client: httpx.Client, image_id: str, flavor: str = "6", name: str | None = None, wait: bool = True,
         **extra) -> dict:
    resp = client.post("/servers", json={"server": {"name": name or unique("vm"), "imageRef": image_id,
                                                    "flavorRef": flavor, "networks": "none", **extra}})
    assert resp.status_code == 202, resp.text
    server = resp.json()["server"]
    return wait_status(client, server["id"], "ACTIVE") if wait else server
