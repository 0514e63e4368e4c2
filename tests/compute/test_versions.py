"""Version discovery and microversion negotiation, with Nova's headers on every reply."""

from __future__ import annotations

import httpx
import pytest

from tests.compute.conftest import nova


def test_version_list_and_document(sim):
    root = httpx.get(sim.url + "/compute/")
    assert root.status_code == 200
    versions = root.json()["versions"]
    assert [v["id"] for v in versions] == ["v2.0", "v2.1"]
    v21 = versions[1]
    assert (v21["min_version"], v21["version"], v21["status"]) == ("2.1", "2.85", "CURRENT")
    assert v21["links"][0]["href"] == sim.url + "/compute/v2.1/"
    with nova(sim, sim.token()) as client:
        doc = client.get("/")
    assert doc.status_code == 200
    assert doc.json()["version"]["id"] == "v2.1"
    assert doc.json()["version"]["media-types"][0]["base"] == "application/json"


@pytest.mark.parametrize("headers, expected", [
    ({}, "2.1"),
    ({"X-OpenStack-Nova-API-Version": "2.2"}, "2.2"),
    ({"OpenStack-API-Version": "compute 2.26"}, "2.26"),
    ({"OpenStack-API-Version": "compute latest"}, "2.85"),
    ({"X-OpenStack-Nova-API-Version": "latest"}, "2.85"),
    # the newer header wins over the legacy one
    ({"OpenStack-API-Version": "compute 2.9", "X-OpenStack-Nova-API-Version": "2.3"}, "2.9"),
])
def test_microversion_is_negotiated_and_echoed(nova_admin, headers, expected):
    resp = nova_admin.get("/flavors", headers=headers)
    assert resp.status_code == 200
    assert resp.headers["X-OpenStack-Nova-API-Version"] == expected
    assert resp.headers["OpenStack-API-Version"] == f"compute {expected}"
    assert "X-OpenStack-Nova-API-Version" in resp.headers["Vary"]
    assert resp.headers["x-compute-request-id"] == resp.headers["x-openstack-request-id"]
    assert resp.headers["x-compute-request-id"].startswith("req-")


@pytest.mark.parametrize("value, status, fault", [
    ("2.1000", 406, "notAcceptable"), ("3.0", 406, "notAcceptable"), ("2.0", 406, "notAcceptable"),
    ("2.a", 400, "badRequest"), ("two", 400, "badRequest"), ("2.", 400, "badRequest"),
])
def test_unsupported_or_malformed_microversion(nova_admin, value, status, fault):
    resp = nova_admin.get("/flavors", headers={"X-OpenStack-Nova-API-Version": value})
    assert resp.status_code == status
    body = resp.json()
    assert list(body) == [fault] and body[fault]["code"] == status
    assert value in body[fault]["message"]
    assert resp.headers["x-compute-request-id"].startswith("req-")


def test_errors_carry_the_request_id_and_nova_fault_body(nova_admin):
    resp = nova_admin.get("/servers/00000000-0000-0000-0000-000000000000")
    assert resp.status_code == 404
    assert resp.json() == {"itemNotFound": {"code": 404, "message":
                                            "Instance 00000000-0000-0000-0000-000000000000 could not be found."}}
    assert resp.headers["x-compute-request-id"] == resp.headers["x-openstack-request-id"]
    assert resp.headers["X-OpenStack-Nova-API-Version"] == "2.1"


def test_legacy_project_id_in_the_path(sim, nova_admin):
    token = sim.token()
    with sim.http(token) as admin:
        project_id = admin.get("/identity/v3/auth/tokens", headers={"X-Subject-Token": token}) \
            .json()["token"]["project"]["id"]
        resp = admin.get(f"/compute/v2.1/{project_id}/flavors/1")
        assert resp.status_code == 200 and resp.json()["flavor"]["name"] == "m1.tiny"
        # every method goes through, not just GET
        resp = admin.delete(f"/compute/v2.1/{project_id}/servers/00000000-0000-0000-0000-000000000000")
        assert resp.status_code == 404 and "itemNotFound" in resp.json()
        resp = admin.get("/compute/v2.1/not-a-project/flavors")
        assert resp.status_code == 404 and "itemNotFound" in resp.json()


def test_unauthenticated_is_401(sim):
    resp = httpx.get(sim.url + "/compute/v2.1/servers")
    assert resp.status_code == 401
    assert resp.json()["unauthorized"]["code"] == 401
