"""Neutron quotas: limits per project, usage, enforcement (409 OverQuota), check_limit, reset."""

from __future__ import annotations

import uuid

import pytest

N = "/network/v2.0"
NAMES = {"network", "subnet", "port", "router", "floatingip", "security_group", "security_group_rule", "subnetpool"}


@pytest.fixture
def project(admin):
    """A fresh project where the demo user is a member, and that user's client scoped to it."""
    name = f"q-{uuid.uuid4().hex[:8]}"
    pid = admin.post("/identity/v3/projects", json={"project": {"name": name, "domain_id": "default"}}).json()[
        "project"]["id"]
    yield pid
    for network in admin.get(f"{N}/networks", params={"project_id": pid}).json()["networks"]:
        admin.delete(f"{N}/networks/{network['id']}")
    admin.delete(f"{N}/quotas/{pid}")
    admin.delete(f"/identity/v3/projects/{pid}")


def test_defaults_are_unlimited_and_listed_in_extensions(admin, project):
    assert {"quotas", "quota_details", "quota-check-limit"} <= {
        e["alias"] for e in admin.get(f"{N}/extensions").json()["extensions"]}
    shown = admin.get(f"{N}/quotas/{project}").json()["quota"]
    assert set(shown) == NAMES and set(shown.values()) == {-1}
    assert admin.get(f"{N}/quotas/{project}/default").json()["quota"] == shown
    assert project not in {q["project_id"] for q in admin.get(f"{N}/quotas").json()["quotas"]}


def test_limit_is_enforced_and_reported(admin, project):
    updated = admin.put(f"{N}/quotas/{project}", json={"quota": {"network": 1}})
    assert updated.status_code == 200 and updated.json()["quota"]["network"] == 1
    listed = {q["project_id"]: q for q in admin.get(f"{N}/quotas").json()["quotas"]}
    assert listed[project]["network"] == 1 and listed[project]["tenant_id"] == project
    first = admin.post(f"{N}/networks", json={"network": {"name": "one", "project_id": project}})
    assert first.status_code == 201
    second = admin.post(f"{N}/networks", json={"network": {"name": "two", "project_id": project}})
    assert second.status_code == 409 and second.json()["NeutronError"]["type"] == "OverQuota"
    bulk = admin.post(f"{N}/networks", json={"networks": [{"project_id": project}, {"project_id": project}]})
    assert bulk.status_code == 409
    details = admin.get(f"{N}/quotas/{project}/details").json()["quota"]
    assert details["network"] == {"limit": 1, "used": 1, "reserved": 0}
    assert details["port"] == {"limit": -1, "used": 0, "reserved": 0}


def test_check_limit_force_and_bad_values(admin, project):
    admin.post(f"{N}/networks", json={"network": {"name": "one", "project_id": project}})
    below = admin.put(f"{N}/quotas/{project}", json={"quota": {"network": 0, "check_limit": True}})
    assert below.status_code == 400 and below.json()["NeutronError"]["type"] == "InvalidQuotaValue"
    forced = admin.put(f"{N}/quotas/{project}", json={"quota": {"network": 0, "force": True}})
    assert forced.status_code == 200 and forced.json()["quota"]["network"] == 0
    for bad in ({"network": -2}, {"network": "lots"}, {"volumes": 3}, {"network": 1, "force": True,
                                                                         "check_limit": True}):
        assert admin.put(f"{N}/quotas/{project}", json={"quota": bad}).status_code == 400, bad
    assert admin.delete(f"{N}/quotas/{project}").status_code == 204
    assert admin.get(f"{N}/quotas/{project}").json()["quota"]["network"] == -1


def test_members_read_their_own_quota_only(cloud, admin):
    member = cloud.http(cloud.token("demo", cloud.password("kumo"), "demo"))
    demo = next(p["id"] for p in member.get("/identity/v3/auth/projects").json()["projects"] if p["name"] == "demo")
    assert member.get(f"{N}/quotas/{demo}").status_code == 200
    assert member.get(f"{N}/quotas/{demo}/details").status_code == 200
    admin_project = admin.get(f"{N}/networks", params={"router:external": "true"}).json()["networks"][0][
        "project_id"]
    assert member.get(f"{N}/quotas/{admin_project}").status_code == 403
    assert member.put(f"{N}/quotas/{demo}", json={"quota": {"network": 5}}).status_code == 403
    assert member.delete(f"{N}/quotas/{demo}").status_code == 403
    assert member.get(f"{N}/quotas").status_code == 403
