"""Servers over raw HTTP: Nova's exact codes and bodies for bad input, filters, projects kept apart,
locks and wrong states, update, metadata, tags (2.26), ips and instance actions."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.compute.conftest import boot, unique, wait_status

MISSING = "9a8b7c6d-1111-2222-3333-444455556666"


@pytest.fixture(scope="module")
def server(tenant, image_ids):
    return boot(tenant.member, image_ids[0], name=unique("api"), metadata={"a": "1"})


def _create(client, **server):
    return client.post("/servers", json={"server": server})


@pytest.mark.parametrize("body, message", [
    ({"name": "", "flavorRef": "6"}, "Invalid input for field 'server.name'"),
    ({"name": 12345, "flavorRef": "6"}, "is not of type 'string'"),
    ({"name": "x" * 256, "flavorRef": "6"}, "is too long"),
    ({"name": " lead", "flavorRef": "6"}, "Invalid input for field 'server.name'"),
    ({"name": "ok"}, "flavorRef"),
    ({"name": "ok", "flavorRef": "6", "metadata": {"a": "b" * 260}}, "is too long"),
    ({"name": "ok", "flavorRef": "6", "accessIPv6": "notvalid"}, "accessIPv6"),
    ({"name": "ok", "flavorRef": "6", "accessIPv4": "1.2.3"}, "accessIPv4"),
    ({"name": "ok", "flavorRef": "6", "user_data": "not base64!"}, "User data needs to be valid base 64."),
    ({"name": "ok", "flavorRef": "6", "networks": [{"uuid": "a-b-c-d-e-f-g-h-i-j"}]}, "networks"),
    ({"name": "ok", "flavorRef": "6", "min_count": 0}, "min_count"),
    ({"name": "ok", "flavorRef": "6", "bogus": 1}, "Additional properties are not allowed"),
])
def test_bad_create_bodies_are_400(tenant, image_ids, body, message):
    body.setdefault("imageRef", image_ids[0])
    resp = _create(tenant.member, **body)
    assert resp.status_code == 400, resp.text
    assert message in resp.json()["badRequest"]["message"]
    assert resp.json()["badRequest"]["code"] == 400


@pytest.mark.parametrize("override, message", [
    ({"flavorRef": "-1"}, "Flavor -1 could not be found."),
    ({"flavorRef": "no-such-flavor"}, "Flavor no-such-flavor could not be found."),
    ({"imageRef": "-1"}, "Invalid imageRef provided."),
    ({"imageRef": MISSING}, f"Image {MISSING} could not be found."),
    ({"networks": [{"uuid": MISSING}]}, f"Network {MISSING} could not be found."),
    ({"key_name": "no-such-key"}, "Invalid key_name provided."),
    ({"availability_zone": "elsewhere"}, "The requested availability zone is not available"),
])
def test_unknown_references_are_400(tenant, image_ids, override, message):
    body = {"name": unique("bad"), "imageRef": image_ids[0], "flavorRef": "6", **override}
    resp = _create(tenant.member, **body)
    assert resp.status_code == 400, resp.text
    assert resp.json() == {"badRequest": {"code": 400, "message": message}}


@pytest.mark.parametrize("method, path, body", [
    ("GET", f"/servers/{MISSING}", None),
    ("DELETE", f"/servers/{MISSING}", None),
    ("PUT", f"/servers/{MISSING}", {"server": {"name": "x"}}),
    ("POST", f"/servers/{MISSING}/action", {"reboot": {"type": "HARD"}}),
    ("POST", f"/servers/{MISSING}/action", {"os-stop": None}),
    ("DELETE", "/servers/-1", None),
    ("DELETE", "/servers/" + "a" * 300, None),
    ("GET", f"/servers/{MISSING}/metadata", None),
])
def test_unknown_servers_are_404(tenant, method, path, body):
    resp = tenant.member.request(method, path, json=body)
    assert resp.status_code == 404, resp.text
    assert resp.json()["itemNotFound"]["code"] == 404


def test_other_projects_servers_are_404_not_403(sim, server):
    from tests.compute.conftest import Tenant

    other = Tenant(sim, roles=("member",))
    try:
        for method, path, body in [("GET", "", None), ("PUT", "", {"server": {"name": "mine"}}),
                                   ("DELETE", "", None), ("POST", "/action", {"os-stop": None}),
                                   ("GET", "/os-instance-actions", None)]:
            resp = other.member.request(method, f"/servers/{server['id']}{path}", json=body)
            assert resp.status_code == 404, (method, path, resp.text)
        listed = other.member.get("/servers").json()["servers"]
        assert server["id"] not in {s["id"] for s in listed}
    finally:
        other.close()


def test_reader_reads_but_cannot_act(tenant, server):
    assert tenant.reader.get(f"/servers/{server['id']}").status_code == 200
    resp = tenant.reader.post(f"/servers/{server['id']}/action", json={"os-stop": None})
    assert resp.status_code == 403 and "forbidden" in resp.json()
    resp = tenant.reader.post("/servers", json={"server": {"name": "x", "flavorRef": "6", "imageRef": MISSING}})
    assert resp.status_code == 403


def test_show_is_nova_shaped(tenant, server):
    shown = tenant.member.get(f"/servers/{server['id']}").json()["server"]
    assert shown["status"] == "ACTIVE" and shown["OS-EXT-STS:vm_state"] == "active"
    assert shown["OS-EXT-STS:power_state"] == 1 and shown["OS-EXT-STS:task_state"] is None
    assert shown["tenant_id"] == tenant.project_id and shown["metadata"] == {"a": "1"}
    assert len(shown["hostId"]) == 56 and shown["OS-EXT-AZ:availability_zone"] == "nova"
    assert shown["flavor"]["id"] == "6" and shown["progress"] == 100
    assert "OS-EXT-SRV-ATTR:host" not in shown  # admin only
    assert "locked" not in shown and "tags" not in shown  # 2.9 and 2.26
    newer = tenant.client(version="2.26").get(f"/servers/{server['id']}").json()["server"]
    assert newer["locked"] is False and newer["tags"] == [] and newer["description"] is None


def test_update_name_and_access_ips(tenant, server):
    resp = tenant.member.put(f"/servers/{server['id']}", json={"server": {
        "name": "renamed", "accessIPv4": "10.1.2.3", "accessIPv6": "::babe:4317:0A83"}})
    assert resp.status_code == 200, resp.text
    body = resp.json()["server"]
    assert (body["name"], body["accessIPv4"], body["accessIPv6"]) == ("renamed", "10.1.2.3", "::babe:4317:a83")
    assert "OS-EXT-STS:vm_state" not in body  # update's view is the short one before 2.75
    for bad in ({"name": ""}, {"name": "x" * 256}, {"accessIPv4": "300.1.1.1"}):
        assert tenant.member.put(f"/servers/{server['id']}", json={"server": bad}).status_code == 400


def test_locked_server_refuses_the_owner_but_not_admin(tenant, nova_admin, server):
    sid = server["id"]
    assert tenant.member.post(f"/servers/{sid}/action", json={"lock": None}).status_code == 202
    for body in ({"os-stop": None}, {"reboot": {"type": "SOFT"}}):
        resp = tenant.member.post(f"/servers/{sid}/action", json=body)
        assert resp.status_code == 409
        assert resp.json() == {"conflictingRequest": {"code": 409, "message": f"Instance {sid} is locked"}}
    assert tenant.member.delete(f"/servers/{sid}").status_code == 409
    assert tenant.client(version="2.9").get(f"/servers/{sid}").json()["server"]["locked"] is True
    # an admin is not held back by the owner's lock
    assert nova_admin.post(f"/servers/{sid}/action", json={"os-stop": None}).status_code == 202
    wait_status(tenant.member, sid, "SHUTOFF")
    assert tenant.member.post(f"/servers/{sid}/action", json={"unlock": None}).status_code == 202
    assert tenant.member.post(f"/servers/{sid}/action", json={"os-start": None}).status_code == 202
    wait_status(tenant.member, sid, "ACTIVE")


def test_wrong_state_is_409(tenant, server):
    sid = server["id"]
    resp = tenant.member.post(f"/servers/{sid}/action", json={"os-start": None})
    assert resp.status_code == 409
    assert resp.json()["conflictingRequest"]["message"] == \
        f"Cannot 'os-start' instance {sid} while it is in vm_state active"
    for body in ({"confirmResize": None}, {"revertResize": None}, {"unpause": None}, {"resume": None}):
        assert tenant.member.post(f"/servers/{sid}/action", json=body).status_code == 409
    for body, status in (({"resize": {"flavorRef": "6"}}, 400), ({"resize": {"flavorRef": ""}}, 400),
                         ({"resize": {"flavorRef": "424242"}}, 400), ({"reboot": {"type": "GENTLE"}}, 400),
                         ({"noSuchAction": {}}, 400), ({"rebuild": {"imageRef": MISSING}}, 400)):
        resp = tenant.member.post(f"/servers/{sid}/action", json=body)
        assert resp.status_code == status, (body, resp.text)
    # a task in flight blocks the next action
    assert tenant.member.post(f"/servers/{sid}/action", json={"os-stop": None}).status_code == 202
    resp = tenant.member.post(f"/servers/{sid}/action", json={"reboot": {"type": "SOFT"}})
    assert resp.status_code in (202, 409)  # 409 while powering-off, 202 once SHUTOFF (reboot starts it)
    wait_status(tenant.member, sid, "ACTIVE" if resp.status_code == 202 else "SHUTOFF")
    if resp.status_code == 409:
        assert tenant.member.post(f"/servers/{sid}/action", json={"os-start": None}).status_code == 202
        wait_status(tenant.member, sid, "ACTIVE")


def test_list_filters(tenant, image_ids, server):
    other = boot(tenant.member, image_ids[1], flavor="7", name=unique("flt"))
    member = tenant.member
    ids = lambda resp: {s["id"] for s in resp.json()["servers"]}
    assert ids(member.get("/servers", params={"image": image_ids[1]})) == {other["id"]}
    assert ids(member.get("/servers/detail", params={"flavor": "7"})) == {other["id"]}
    assert other["id"] in ids(member.get("/servers", params={"name": "^flt-"}))
    assert server["id"] not in ids(member.get("/servers", params={"name": "^flt-"}))
    assert ids(member.get("/servers", params={"status": "ACTIVE"})) >= {other["id"]}
    assert member.get("/servers", params={"status": "NO_SUCH"}).json()["servers"] == []
    assert member.get("/servers", params={"flavor": "424242"}).json()["servers"] == []
    future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert member.get("/servers", params={"changes-since": future}).json()["servers"] == []
    assert member.get("/servers", params={"changes-since": "2011/01/01"}).status_code == 400
    assert member.get("/servers", params={"limit": "-1"}).status_code == 400
    assert member.get("/servers", params={"limit": "abc"}).status_code == 400
    page = member.get("/servers", params={"limit": "1"}).json()
    assert len(page["servers"]) == 1 and page["servers_links"][0]["rel"] == "next"
    rest = member.get("/servers", params={"marker": page["servers"][0]["id"]}).json()["servers"]
    assert page["servers"][0]["id"] not in {s["id"] for s in rest} and rest
    assert member.get("/servers", params={"marker": MISSING}).status_code == 400
    names = [s["name"] for s in member.get("/servers/detail", params={"sort_key": "display_name",
                                                                       "sort_dir": "asc"}).json()["servers"]]
    assert names == sorted(names)
    # all_tenants is for admins
    assert member.get("/servers", params={"all_tenants": "1"}).status_code == 403


def test_metadata_api_and_limits(tenant, server):
    sid, member = server["id"], tenant.member
    assert member.put(f"/servers/{sid}/metadata", json={"metadata": {"k1": "v1", "k2": "v2"}}).json() == \
        {"metadata": {"k1": "v1", "k2": "v2"}}
    assert member.post(f"/servers/{sid}/metadata", json={"metadata": {"k3": "v3"}}).json()["metadata"] == \
        {"k1": "v1", "k2": "v2", "k3": "v3"}
    assert member.get(f"/servers/{sid}/metadata/k1").json() == {"meta": {"k1": "v1"}}
    assert member.put(f"/servers/{sid}/metadata/k4", json={"meta": {"k4": "v4"}}).json() == {"meta": {"k4": "v4"}}
    assert member.delete(f"/servers/{sid}/metadata/k4").status_code == 204
    assert member.get(f"/servers/{sid}/metadata/k4").status_code == 404
    assert member.put(f"/servers/{sid}/metadata/k5", json={"meta": {"other": "v"}}).json()["badRequest"][
        "message"] == "Request body and URI mismatch"
    assert member.put(f"/servers/{sid}/metadata/k5", json={"meta": {"k5": "v", "k6": "v"}}).status_code == 400
    assert member.put(f"/servers/{sid}/metadata", json={"metadata": {"k": "v" * 256}}).status_code == 400
    too_many = {f"key{i}": "v" for i in range(129)}
    resp = member.put(f"/servers/{sid}/metadata", json={"metadata": too_many})
    assert resp.status_code == 403 and "metadata_items" in resp.json()["forbidden"]["message"]
    assert member.get(f"/servers/{sid}/metadata").json()["metadata"] == {"k1": "v1", "k2": "v2", "k3": "v3"}


def test_tags_need_2_26(tenant, server):
    sid = server["id"]
    assert tenant.member.get(f"/servers/{sid}/tags").status_code == 404
    client = tenant.client(version="2.26")
    assert client.put(f"/servers/{sid}/tags", json={"tags": ["a", "b"]}).json() == {"tags": ["a", "b"]}
    resp = client.put(f"/servers/{sid}/tags/c")
    assert resp.status_code == 201 and resp.headers["location"].endswith(f"/servers/{sid}/tags/c")
    assert client.put(f"/servers/{sid}/tags/c").status_code == 204
    assert client.get(f"/servers/{sid}/tags/c").status_code == 204
    assert client.get(f"/servers/{sid}/tags/zz").status_code == 404
    assert client.put(f"/servers/{sid}/tags", json={"tags": ["bad/tag"]}).status_code == 400
    assert client.put(f"/servers/{sid}/tags", json={"tags": [str(i) for i in range(51)]}).status_code == 400
    assert {s["id"] for s in client.get("/servers", params={"tags": "a,c"}).json()["servers"]} == {sid}
    assert sid not in {s["id"] for s in client.get("/servers", params={"not-tags": "a"}).json()["servers"]}
    assert client.delete(f"/servers/{sid}/tags/c").status_code == 204
    assert client.delete(f"/servers/{sid}/tags").status_code == 204
    assert client.get(f"/servers/{sid}").json()["server"]["tags"] == []
    client.close()


def test_instance_actions_carry_the_request_id(tenant, nova_admin, image_ids):
    resp = _create(tenant.member, name=unique("act"), imageRef=image_ids[0], flavorRef="6")
    request_id = resp.headers["x-compute-request-id"]
    sid = resp.json()["server"]["id"]
    wait_status(tenant.member, sid, "ACTIVE")
    actions = tenant.reader.get(f"/servers/{sid}/os-instance-actions").json()["instanceActions"]
    assert [(a["action"], a["request_id"]) for a in actions] == [("create", request_id)]
    shown = tenant.reader.get(f"/servers/{sid}/os-instance-actions/{request_id}").json()["instanceAction"]
    assert shown["instance_uuid"] == sid and "events" not in shown  # events are for admins before 2.51
    events = nova_admin.get(f"/servers/{sid}/os-instance-actions/{request_id}").json()["instanceAction"]["events"]
    assert events[0]["event"] == "compute__do_build_and_run_instance" and events[0]["result"] == "Success"
    assert tenant.reader.get(f"/servers/{sid}/os-instance-actions/req-unknown").status_code == 404
    assert tenant.member.get(f"/servers/{sid}/ips").json() == {"addresses": {}}
    assert tenant.member.get(f"/servers/{sid}/ips/private").status_code == 404
    assert tenant.member.delete(f"/servers/{sid}").status_code == 204
    wait_status(tenant.member, sid, "DELETED")


def test_user_data_key_and_admin_fields(tenant, nova_admin, image_ids):
    key = tenant.member.post("/os-keypairs", json={"keypair": {"name": unique("k")}}).json()["keypair"]
    user_data = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    body = boot(tenant.member, image_ids[0], name=unique("ud"), key_name=key["name"], user_data=user_data,
                adminPass="given-pass", config_drive=True)
    assert body["key_name"] == key["name"] and body["config_drive"] == "True"
    admin_view = nova_admin.get(f"/servers/{body['id']}", headers={"X-OpenStack-Nova-API-Version": "2.3"}) \
        .json()["server"]
    assert admin_view["OS-EXT-SRV-ATTR:user_data"] == user_data
    assert admin_view["OS-EXT-SRV-ATTR:hostname"] == body["name"].lower()
    assert admin_view["OS-EXT-SRV-ATTR:host"] and admin_view["OS-EXT-SRV-ATTR:instance_name"]
    time.sleep(0)


def test_microversion_dependent_behaviour(tenant, image_ids):
    v237 = tenant.client(version="2.37")
    body = {"name": unique("mv"), "imageRef": image_ids[0], "flavorRef": "6"}
    resp = v237.post("/servers", json={"server": body})
    assert resp.status_code == 400 and "'networks' is a required property" in resp.json()["badRequest"]["message"]
    assert v237.get("/servers", params={"status": "NO_SUCH"}).json()["servers"] == []  # 2.38 makes it 400
    v238 = tenant.client(version="2.38")
    resp = v238.get("/servers", params={"status": "NO_SUCH"})
    assert resp.status_code == 400 and resp.json()["badRequest"]["message"] == "Invalid status value"
    quota = v238.get(f"/os-quota-sets/{tenant.project_id}").json()["quota_set"]
    assert "security_groups" not in quota and "floating_ips" not in quota and quota["instances"] == 10
    assert v238.get("/os-security-groups").status_code == 404
    v237.close()
    v238.close()
