"""Image test helpers: throwaway projects with a member and a reader, and raw Glance clients acting as them."""

from __future__ import annotations

import uuid

import httpx
import pytest

V2 = "/image/v2"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Tenant:
    """A project with a member user and a reader user, each with a Glance client (base ``/image/v2``)."""

    def __init__(self, cloud, admin: httpx.Client):
        self.cloud, self._admin = cloud, admin
        roles = {r["name"]: r["id"] for r in admin.get("/identity/v3/roles").json()["roles"]}
        resp = admin.post("/identity/v3/projects", json={"project": {"name": unique("img"), "domain_id": "default"}})
        assert resp.status_code == 201, resp.text
        self.project_id = resp.json()["project"]["id"]
        self.user_ids = []
        self.member = self._user(roles["member"])
        self.reader = self._user(roles["reader"])

    def _user(self, role_id: str) -> httpx.Client:
        name, password = unique("u"), unique("pw")
        resp = self._admin.post("/identity/v3/users", json={"user": {"name": name, "password": password,
                                                                     "domain_id": "default"}})
        assert resp.status_code == 201, resp.text
        user_id = resp.json()["user"]["id"]
        self.user_ids.append(user_id)
        assert self._admin.put(f"/identity/v3/projects/{self.project_id}/users/{user_id}/roles/{role_id}") \
            .status_code == 204
        token = self.cloud.token(name, password, scope={"project": {"id": self.project_id}})
        return httpx.Client(base_url=self.cloud.url + V2, headers={"X-Auth-Token": token}, timeout=30)

    def close(self) -> None:
        for client in (self.member, self.reader):
            client.close()
        for user_id in self.user_ids:
            self._admin.delete(f"/identity/v3/users/{user_id}")
        self._admin.delete(f"/identity/v3/projects/{self.project_id}")


@pytest.fixture
def tenants(cloud, admin):
    made = []

    def make() -> Tenant:
        made.append(Tenant(cloud, admin))
        return made[-1]

    yield make
    for tenant in made:
        for image in tenant.member.get("/images", params={"owner": tenant.project_id, "limit": 1000,
                                                         "visibility": "all"}).json().get("images", []):
            if image["protected"]:
                tenant.member.patch(f"/images/{image['id']}", content=b'[{"op":"replace","path":"/protected",'
                                    b'"value":false}]', headers=PATCH)
            tenant.member.delete(f"/images/{image['id']}")
        tenant.close()


@pytest.fixture
def glance_admin(cloud):
    with httpx.Client(base_url=cloud.url + V2, headers={"X-Auth-Token": cloud.token()}, timeout=30) as client:
        yield client


PATCH = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
OCTET = {"Content-Type": "application/octet-stream"}


def create(client: httpx.Client, **body) -> dict:
    body.setdefault("name", unique("image"))
    body.setdefault("disk_format", "raw")
    body.setdefault("container_format", "bare")
    resp = client.post("/images", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


def upload(client: httpx.Client, image_id: str, content: bytes) -> httpx.Response:
    return client.put(f"/images/{image_id}/file", content=content, headers=OCTET)


def patch(client: httpx.Client, image_id: str, ops: list, media: str = PATCH["Content-Type"]) -> httpx.Response:
    import json

    return client.patch(f"/images/{image_id}", content=json.dumps(ops), headers={"Content-Type": media})
