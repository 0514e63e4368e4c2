"""Server groups (os-server-groups) through the openstack CLI, openstacksdk and raw Nova requests: the shapes
per microversion, the group hint on boot, anti-affinity on Kumo's one host (the second member fails with
Nova's "No valid host was found"), affinity always fitting, and the two quotas."""

from __future__ import annotations

import pytest

from tests.compute.conftest import Tenant, unique, wait_status

NO_VALID_HOST = "No valid host was found. There are not enough hosts available."


@pytest.fixture(scope="module")
def project(sim):
    t = Tenant(sim)
    yield t
    t.close()


def _boot(client, image_id: str, group_id: str, **extra):
    return client.post("/servers", json={"server": {"name": unique("sg"), "imageRef": image_id, "flavorRef": "6",
                                                    "networks": "none", **extra},
                                         "os:scheduler_hints": {"group": group_id}})


def test_shapes_per_microversion_and_the_cli(sim, project):
    v21, v213 = project.client(version="2.1"), project.client(version="2.13")
    created = v21.post("/os-server-groups", json={"server_group": {"name": "g21", "policies": ["affinity"]}})
    assert created.status_code == 200, created.text
    group = created.json()["server_group"]
    assert group == {"id": group["id"], "name": "g21", "policies": ["affinity"], "members": [], "metadata": {}}
    shown = v213.get(f"/os-server-groups/{group['id']}").json()["server_group"]
    assert shown["project_id"] == project.project_id and shown["user_id"] == project.users["member"][2]
    assert "policy" not in shown and "rules" not in shown
    # soft policies from 2.15; one policy; no 2.64 fields before 2.64
    soft = {"server_group": {"name": "soft", "policies": ["soft-anti-affinity"]}}
    assert v21.post("/os-server-groups", json=soft).status_code == 400
    for body in ({"server_group": {"name": "two", "policies": ["affinity", "anti-affinity"]}},
                 {"server_group": {"name": "bad", "policies": ["spread"]}},
                 {"server_group": {"name": "new", "policy": "affinity"}},
                 {"server_group": {"name": " padded", "policies": ["affinity"]}}):
        assert v213.post("/os-server-groups", json=body).status_code == 400, body
    assert v21.delete(f"/os-server-groups/{group['id']}").status_code == 204
    assert v21.get(f"/os-server-groups/{group['id']}").status_code == 404

    name, password, _, _ = project.users["member"]
    env = {"OS_USERNAME": name, "OS_USER_DOMAIN_ID": "default", "OS_PASSWORD": password,
           "OS_PROJECT_ID": project.project_id, "OS_COMPUTE_API_VERSION": "2.15"}
    made, listed, shown, _ = sim.openstack_batch(
        "server group create --policy soft-anti-affinity -f json cli-group",
        "server group list -f json", "server group show -f json cli-group", "server group delete cli-group",
        env=env)
    assert made.err == "" and made.data["policies"] == ["soft-anti-affinity"], made
    assert made.data["project_id"] == project.project_id
    assert [(g["Name"], g["Policies"]) for g in listed.data] == [("cli-group", ["soft-anti-affinity"])]
    assert shown.data["id"] == made.data["id"] and shown.data["members"] == []
    assert project.member.get(f"/os-server-groups/{made.data['id']}").status_code == 404


def test_anti_affinity_places_one_member_on_the_one_host(sim, project, image_ids):
    conn = sim.sdk()  # the admin: it sees every project's groups
    member = project.member
    group = member.post("/os-server-groups", json={"server_group": {
        "name": unique("anti"), "policies": ["anti-affinity"]}}).json()["server_group"]
    first = _boot(member, image_ids[0], group["id"])
    second = _boot(member, image_ids[0], group["id"])
    assert first.status_code == 202 and second.status_code == 202, (first.text, second.text)
    first_id, second_id = first.json()["server"]["id"], second.json()["server"]["id"]
    wait_status(member, first_id, "ACTIVE")
    failed = wait_status(member, second_id, "ERROR")
    assert failed["fault"]["code"] == 500 and failed["fault"]["message"] == NO_VALID_HOST
    shown = member.get(f"/os-server-groups/{group['id']}").json()["server_group"]
    assert shown["members"] == [first_id, second_id]  # a member though it found no host, as in Nova
    # through the SDK: the failed member does not take the place; deleting the placed one frees it
    sdk_group = conn.compute.get_server_group(group["id"])
    assert sdk_group.policy == "anti-affinity" and sorted(sdk_group.member_ids) == sorted([first_id, second_id])
    for server_id in (first_id, second_id):
        assert member.delete(f"/servers/{server_id}").status_code == 204
    for server_id in (first_id, second_id):
        wait_status(member, server_id, "DELETED")
    assert member.get(f"/os-server-groups/{group['id']}").json()["server_group"]["members"] == []
    third = _boot(member, image_ids[0], group["id"])
    wait_status(member, third.json()["server"]["id"], "ACTIVE")
    member.delete(f"/servers/{third.json()['server']['id']}")
    wait_status(member, third.json()["server"]["id"], "DELETED")
    assert member.delete(f"/os-server-groups/{group['id']}").status_code == 204


def test_affinity_always_fits_and_bad_hints_are_400(sim, project, image_ids):
    conn = sim.sdk()
    group = conn.compute.create_server_group(name=unique("aff"), policy="affinity")  # at 2.64+: policy
    assert group.policy == "affinity" and group.policies is None
    servers = [conn.compute.create_server(name=unique("aff"), image_id=image_ids[0], flavor_id="6", networks="none",
                                          scheduler_hints={"group": group.id}) for _ in range(2)]
    try:
        for server in servers:
            conn.compute.wait_for_server(server, interval=0.05, wait=30)
        assert sorted(conn.compute.get_server_group(group.id).member_ids) == sorted(s.id for s in servers)
    finally:
        for server in servers:
            conn.compute.delete_server(server)
        for server in servers:
            conn.compute.wait_for_delete(server, interval=0.05, wait=30)
    conn.compute.delete_server_group(group)

    member = project.member
    resp = _boot(member, image_ids[0], "8a7f7b9e-4c5e-4d3b-9d7e-5b0b1f7f0c11")
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"] == \
        "Instance group 8a7f7b9e-4c5e-4d3b-9d7e-5b0b1f7f0c11 could not be found."
    assert _boot(member, image_ids[0], "not-a-uuid").status_code == 400
    # another project's group is not there for this one
    assert member.get(f"/os-server-groups/{group.id}").status_code == 404


def test_server_group_quotas(sim, image_ids):
    t = Tenant(sim)
    admin = sim.http(sim.token())
    try:
        quota = f"/compute/v2.1/os-quota-sets/{t.project_id}"
        assert admin.put(quota, json={"quota_set": {"server_groups": 1, "server_group_members": 1}}).status_code == 200
        group = t.member.post("/os-server-groups", json={"server_group": {
            "name": "one", "policies": ["soft-affinity"]}}, headers={"X-OpenStack-Nova-API-Version": "2.15"})
        assert group.status_code == 200, group.text
        group_id = group.json()["server_group"]["id"]
        over = t.member.post("/os-server-groups", json={"server_group": {"name": "two", "policies": ["affinity"]}})
        assert over.status_code == 403
        assert over.json()["forbidden"]["message"] == "Quota exceeded, too many server groups."
        detail = admin.get(quota + "/detail").json()["quota_set"]
        assert detail["server_groups"] == {"limit": 1, "in_use": 1, "reserved": 0}
        limits = t.member.get("/limits").json()["limits"]["absolute"]
        assert (limits["maxServerGroups"], limits["totalServerGroupsUsed"], limits["maxServerGroupMembers"]) == (1, 1, 1)

        first = _boot(t.member, image_ids[0], group_id)
        assert first.status_code == 202
        full = _boot(t.member, image_ids[0], group_id)
        assert full.status_code == 403 and full.json()["forbidden"]["message"] == \
            "Quota exceeded, too many servers in group"
        server_id = first.json()["server"]["id"]
        wait_status(t.member, server_id, "ACTIVE")
        assert t.member.delete(f"/servers/{server_id}").status_code == 204
        wait_status(t.member, server_id, "DELETED")
        assert t.member.delete(f"/os-server-groups/{group_id}").status_code == 204
        assert admin.get(quota + "/detail").json()["quota_set"]["server_groups"]["in_use"] == 0
        again = t.member.post("/os-server-groups", json={"server_group": {"name": "two", "policies": ["affinity"]}})
        assert again.status_code == 200
        # all_projects is the admin's; a member sees only its project's groups
        listed = admin.get("/compute/v2.1/os-server-groups", params={"all_projects": "True"}).json()
        assert again.json()["server_group"]["id"] in {g["id"] for g in listed["server_groups"]}
        assert t.member.get("/os-server-groups", params={"all_projects": "True"}).status_code == 403
        assert [g["id"] for g in t.member.get("/os-server-groups").json()["server_groups"]] == \
            [again.json()["server_group"]["id"]]
        assert t.member.delete(f"/os-server-groups/{again.json()['server_group']['id']}").status_code == 204
    finally:
        admin.close()
        t.close()
