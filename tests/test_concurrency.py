"""Concurrent writers: all succeed when they do not collide, exactly one wins when they do, never a 500."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

V3 = "/identity/v3"


def all_at_once(cloud, token: str, count: int, request) -> list:
    """Run ``request(client, i)`` from ``count`` threads released together, each with its own connection."""
    barrier = threading.Barrier(count)

    def one(i):
        with cloud.http(token) as client:
            client.get("/healthz")  # connect first, so that the requests themselves start together
            barrier.wait()
            return request(client, i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


@pytest.fixture
def admin_token(cloud):
    return cloud.token()


def test_twenty_users_created_at_once_all_succeed(cloud, admin, admin_token):
    prefix = f"crowd-{uuid.uuid4().hex[:8]}"
    responses = all_at_once(cloud, admin_token, 20, lambda client, i: client.post(
        V3 + "/users", json={"user": {"name": f"{prefix}-{i}", "password": f"password-{i}"}}))
    try:
        assert sorted(r.status_code for r in responses) == [201] * 20, [r.text for r in responses]
        listed = admin.get(V3 + "/users", params={"name__startswith": prefix}).json()["users"]
        assert sorted(u["name"] for u in listed) == sorted(f"{prefix}-{i}" for i in range(20))
        assert len({r.json()["user"]["id"] for r in responses}) == 20
        # and each has its own password
        assert cloud.token(f"{prefix}-7", "password-7", project=None)
    finally:
        for resp in responses:
            if resp.status_code == 201:
                admin.delete(f"{V3}/users/{resp.json()['user']['id']}")


@pytest.mark.parametrize("kind", ["projects", "users", "roles"])
def test_ten_creations_of_one_name_one_wins(cloud, admin, admin_token, kind):
    key, name = kind[:-1], f"contested-{uuid.uuid4().hex[:8]}"
    responses = all_at_once(cloud, admin_token, 10, lambda client, i: client.post(
        f"{V3}/{kind}", json={key: {"name": name, "description": f"attempt {i}"}}))
    statuses = sorted(r.status_code for r in responses)
    try:
        assert statuses == [201] + [409] * 9, [r.text for r in responses]
        for resp in responses:
            assert resp.headers["x-openstack-request-id"].startswith("req-")
            if resp.status_code == 409:
                error = resp.json()["error"]
                assert error["code"] == 409 and error["title"] == "Conflict"
                assert error["message"].startswith(f"Conflict occurred attempting to store {key}")
        listed = admin.get(f"{V3}/{kind}", params={"name": name}).json()[kind]
        assert len(listed) == 1
    finally:
        for resp in responses:
            if resp.status_code == 201:
                admin.delete(f"{V3}/{kind}/{resp.json()[key]['id']}")


def test_concurrent_failed_logins_are_all_counted(cloud, admin, admin_token):
    """Failed logins record themselves in their own write transactions: many at once, then a lockout."""
    name = f"target-{uuid.uuid4().hex[:8]}"
    user = admin.post(V3 + "/users", json={"user": {"name": name, "password": "the-password-1"}}).json()["user"]
    try:
        def attempt(client, i):
            return client.post(V3 + "/auth/tokens", json={"auth": {"identity": {"methods": ["password"],
                               "password": {"user": {"id": user["id"], "password": f"wrong-{i}"}}}}})

        responses = all_at_once(cloud, None, 8, attempt)
        assert [r.status_code for r in responses] == [401] * 8, [r.text for r in responses]
        with cloud.http() as client:  # locked now (2 failures lock for 5 s), even with the right password
            resp = client.post(V3 + "/auth/tokens", json={"auth": {"identity": {"methods": ["password"],
                               "password": {"user": {"id": user["id"], "password": "the-password-1"}}}}})
        assert resp.status_code == 401
        assert resp.json()["error"]["message"] == f"The account is locked for user: {user['id']}."
    finally:
        admin.delete(f"{V3}/users/{user['id']}")


def test_reads_while_writing(cloud, admin, admin_token):
    """Validations and listings run while writers queue: no errors, no stale token state."""
    prefix = f"rw-{uuid.uuid4().hex[:8]}"

    def mixed(client, i):
        if i % 2:
            return client.post(V3 + "/projects", json={"project": {"name": f"{prefix}-{i}"}})
        return client.get(V3 + "/auth/tokens", headers={"X-Subject-Token": admin_token})

    responses = all_at_once(cloud, admin_token, 12, mixed)
    try:
        assert sorted(r.status_code for r in responses) == [200] * 6 + [201] * 6, [r.text for r in responses]
    finally:
        for resp in responses:
            if resp.status_code == 201:
                admin.delete(f"{V3}/projects/{resp.json()['project']['id']}")
