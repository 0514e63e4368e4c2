"""Nova's microversions 2.39 … 2.69: each reply checked against Tempest's response schema of its version
(Tempest's own JSON schemas, loaded from the interop virtualenv), the request-side rules of each step, and
a few user-visible ones through the stock CLI and openstacksdk."""

from __future__ import annotations

import importlib
import sys
import time
import uuid
from pathlib import Path

import jsonschema
import pytest

from tests.compute.conftest import boot, nova, unique, wait_status

ROOT = Path(__file__).resolve().parents[2]
TEMPEST = ROOT / ".interop/venv/lib/python3.11/site-packages"


@pytest.fixture(scope="module")
def schemas():
    """``schemas(minor, module)``: Tempest's ``api_schema.response.compute.v2_<minor>.<module>``."""
    if not (TEMPEST / "tempest/lib/api_schema").is_dir():
        pytest.skip("Tempest is not installed in .interop/venv (scripts/setup.sh installs it)")
    # only the tempest package from that virtualenv: its schema modules are plain dicts
    sys.path.append(str(TEMPEST))
    try:
        yield lambda minor, name: importlib.import_module(
            f"tempest.lib.api_schema.response.compute.v2_{minor}.{name}")
    finally:
        sys.path.remove(str(TEMPEST))


def check(resp, schema: dict) -> dict:
    """As Tempest's rest client: the status code, then the body against the schema (Draft 4)."""
    expected = schema["status_code"]
    assert resp.status_code in expected, (resp.status_code, resp.text)
    body = resp.json() if resp.content else None
    if "response_body" in schema:
        jsonschema.Draft4Validator(schema["response_body"], format_checker=jsonschema.FormatChecker()).validate(body)
    return body


@pytest.fixture(scope="module")
def admin(sim):
    def client(version: str):
        return nova(sim, sim.token(), version)
    return client


@pytest.fixture(scope="module")
def server(tenant, image_ids):
    with tenant.client(version="2.52") as v252:
        return boot(v252, image_ids[0], name=unique("mv"), tags=["blue", "green", "blue"])


def test_tags_at_create_are_2_52(tenant, image_ids, server, schemas):
    assert sorted(server["tags"]) == ["blue", "green"]
    with tenant.client(version="2.51") as v251:
        resp = v251.post("/servers", json={"server": {"name": unique("mv"), "imageRef": image_ids[0],
                                                      "flavorRef": "6", "networks": "none", "tags": ["x"]}})
    assert resp.status_code == 400 and "'tags' was unexpected" in resp.text
    with tenant.client(version="2.52") as v252:
        resp = v252.post("/servers", json={"server": {"name": unique("mv"), "imageRef": image_ids[0],
                                                      "flavorRef": "6", "networks": "none", "tags": ["a/b"]}})
    assert resp.status_code == 400


def test_server_views_2_47_embed_the_flavor(tenant, server, schemas):
    for minor, mod in ((47, "servers"), (54, "servers"), (57, "servers")):
        with tenant.client(version=f"2.{minor}") as client:
            shown = check(client.get(f"/servers/{server['id']}"), schemas(minor, mod).get_server)["server"]
            check(client.get("/servers/detail"), schemas(minor, mod).list_servers_detail)
            check(client.put(f"/servers/{server['id']}", json={"server": {"description": "d"}}),
                  schemas(minor, mod).update_server)
        assert shown["flavor"] == {"vcpus": 1, "ram": 64, "disk": 1, "ephemeral": 0, "swap": 0,
                                   "original_name": shown["flavor"]["original_name"], "extra_specs": {}}
    with tenant.client(version="2.46") as v246:
        assert set(v246.get(f"/servers/{server['id']}").json()["server"]["flavor"]) == {"id", "links"}


def test_rebuild_2_54_key_name_and_2_57_user_data(tenant, image_ids, schemas):
    with tenant.client(version="2.57") as v257:
        made = boot(v257, image_ids[0], name=unique("mv"))
        key = v257.post("/os-keypairs", json={"keypair": {"name": unique("k")}}).json()["keypair"]
        try:
            resp = v257.post(f"/servers/{made['id']}/action", json={"rebuild": {
                "imageRef": image_ids[1], "key_name": key["name"], "user_data": "aGVsbG8="}})
            shown = check(resp, schemas(57, "servers").rebuild_server_with_admin_pass)["server"]
            assert (shown["key_name"], shown["user_data"]) == (key["name"], "aGVsbG8=")
            wait_status(v257, made["id"], "ACTIVE")
            # personality is gone at 2.57; user_data on rebuild is not there before it, key_name not before 2.54
            resp = v257.post(f"/servers/{made['id']}/action", json={"rebuild": {
                "imageRef": image_ids[1], "personality": []}})
            assert resp.status_code == 400 and "personality" in resp.text
            with tenant.client(version="2.56") as v256:
                resp = v256.post(f"/servers/{made['id']}/action", json={"rebuild": {
                    "imageRef": image_ids[1], "user_data": "aGVsbG8="}})
                assert resp.status_code == 400 and "user_data" in resp.text
                resp = v256.post(f"/servers/{made['id']}/action", json={"rebuild": {
                    "imageRef": image_ids[1], "key_name": None}})
                shown = check(resp, schemas(54, "servers").rebuild_server_with_admin_pass)["server"]
                assert shown["key_name"] is None and "user_data" not in shown
            with tenant.client(version="2.53") as v253:
                wait_status(v253, made["id"], "ACTIVE")
                resp = v253.post(f"/servers/{made['id']}/action", json={"rebuild": {
                    "imageRef": image_ids[1], "key_name": key["name"]}})
                assert resp.status_code == 400 and "key_name" in resp.text
            resp = v257.post("/servers", json={"server": {"name": unique("mv"), "imageRef": image_ids[0],
                                                          "flavorRef": "6", "networks": "none", "personality": []}})
            assert resp.status_code == 400 and "personality" in resp.text
        finally:
            v257.delete(f"/servers/{made['id']}")
            v257.delete(f"/os-keypairs/{key['name']}")


def test_flavor_description_2_55(admin, schemas):
    name = unique("flv")
    with admin("2.55") as v255, admin("2.54") as v254:
        body = {"flavor": {"name": name, "ram": 64, "vcpus": 1, "disk": 1, "description": "small one"}}
        assert v254.post("/flavors", json=body).status_code == 400
        made = check(v255.post("/flavors", json=body), schemas(55, "flavors").create_update_get_flavor_details)
        flavor_id = made["flavor"]["id"]
        try:
            assert made["flavor"]["description"] == "small one"
            check(v255.get("/flavors"), schemas(55, "flavors").list_flavors)
            check(v255.get("/flavors/detail"), schemas(55, "flavors").list_flavors_details)
            updated = check(v255.put(f"/flavors/{flavor_id}", json={"flavor": {"description": None}}),
                            schemas(55, "flavors").create_update_get_flavor_details)
            assert updated["flavor"]["description"] is None
            assert v255.put(f"/flavors/{flavor_id}", json={"flavor": {"name": "x"}}).status_code == 400
            assert v254.put(f"/flavors/{flavor_id}", json={"flavor": {"description": "x"}}).status_code == 404
            assert "description" not in v254.get(f"/flavors/{flavor_id}").json()["flavor"]
        finally:
            v255.delete(f"/flavors/{flavor_id}")


def test_hypervisors_and_services_by_uuid_2_53(admin, server, schemas):
    with admin("2.53") as v253, admin("2.52") as v252:
        listed = check(v253.get("/os-hypervisors/detail", params={"with_servers": "true"}),
                       schemas(53, "hypervisors").list_hypervisors_detail)["hypervisors"]
        ident = listed[0]["id"]
        assert uuid.UUID(ident) and server["id"] in [s["uuid"] for s in listed[0]["servers"]]
        assert uuid.UUID(listed[0]["service"]["id"])
        shown = check(v253.get(f"/os-hypervisors/{ident}"), schemas(53, "hypervisors").get_hypervisor)
        assert "servers" not in shown["hypervisor"]
        assert v253.get("/os-hypervisors/1").status_code == 400
        assert v253.get(f"/os-hypervisors/{uuid.uuid4()}").status_code == 404
        hostname = listed[0]["hypervisor_hostname"]
        found = v253.get("/os-hypervisors", params={"hypervisor_hostname_pattern": hostname[:3]})
        assert [h["id"] for h in found.json()["hypervisors"]] == [ident]
        assert v253.get("/os-hypervisors", params={"hypervisor_hostname_pattern": "no-such-host"}).status_code == 404
        assert v253.get("/os-hypervisors", params={"marker": ident}).json()["hypervisors"] == []
        services = check(v253.get("/os-services"), schemas(53, "services").list_services)["services"]
        assert all(uuid.UUID(s["id"]) for s in services)
        assert v252.get("/os-hypervisors").json()["hypervisors"][0]["id"] == 1
        assert v252.get("/os-hypervisors/1").status_code == 200


def test_limits_and_quotas_2_57(tenant, admin, schemas):
    with tenant.client(version="2.57") as v257, tenant.client(version="2.56") as v256:
        absolute = check(v257.get("/limits"), schemas(57, "limits").get_limit)["limits"]["absolute"]
        assert "maxPersonality" not in absolute and "maxImageMeta" not in absolute
        assert "maxPersonality" in v256.get("/limits").json()["limits"]["absolute"]
    with admin("2.57") as a257:
        check(a257.get(f"/os-quota-sets/{tenant.project_id}"), schemas(57, "quotas").get_quota_set)
        resp = a257.put(f"/os-quota-sets/{tenant.project_id}", json={"quota_set": {"injected_files": 3}})
        assert resp.status_code == 400


def test_instance_actions_paginated_2_58(tenant, server, schemas):
    sid = server["id"]
    with tenant.client(version="2.58") as v258:
        for key in ("a", "b"):  # two more actions, done in the request itself
            assert v258.post(f"/servers/{sid}/action", json={"lock": None}).status_code == 202
            assert v258.post(f"/servers/{sid}/action", json={"unlock": None}).status_code == 202
        listed = check(v258.get(f"/servers/{sid}/os-instance-actions"),
                       schemas(58, "servers").list_instance_actions)["instanceActions"]
        assert [a["action"] for a in listed][:2] == ["unlock", "lock"] and len(listed) >= 5
        page = check(v258.get(f"/servers/{sid}/os-instance-actions", params={"limit": 2}),
                     schemas(58, "servers").list_instance_actions)
        assert [a["request_id"] for a in page["instanceActions"]] == [a["request_id"] for a in listed[:2]]
        nxt = v258.get(page["links"][0]["href"].split("/v2.1", 1)[1]).json()["instanceActions"]
        assert [a["request_id"] for a in nxt] == [a["request_id"] for a in listed[2:4]]
        assert v258.get(f"/servers/{sid}/os-instance-actions", params={"marker": "req-nope"}).status_code == 400
        newest = listed[0]["updated_at"]
        since = v258.get(f"/servers/{sid}/os-instance-actions", params={"changes-since": newest}).json()
        assert listed[0]["request_id"] in [a["request_id"] for a in since["instanceActions"]]
        assert len(since["instanceActions"]) < len(listed)
        check(v258.get(f"/servers/{sid}/os-instance-actions/{listed[0]['request_id']}"),
              schemas(58, "servers").show_instance_action)
    with tenant.client(version="2.57") as v257:
        old = v257.get(f"/servers/{sid}/os-instance-actions", params={"limit": 1}).json()
        assert len(old["instanceActions"]) == len(listed) and "updated_at" not in old["instanceActions"][0]


def test_removed_and_tagged_actions(tenant, server, image_ids):
    sid = server["id"]
    with tenant.client(version="2.44") as v244, tenant.client(version="2.43") as v243:
        assert v244.post(f"/servers/{sid}/action", json={"addFloatingIp": {"address": "1.2.3.4"}}).status_code == 404
        assert v243.post(f"/servers/{sid}/action", json={"addFloatingIp": {"address": "1.2.3.4"}}).status_code == 400
    with tenant.client(version="2.48") as v248:
        resp = v248.post(f"/servers/{sid}/os-volume_attachments",
                         json={"volumeAttachment": {"volumeId": str(uuid.uuid4()), "tag": "t"}})
        assert resp.status_code == 400 and "'tag' was unexpected" in resp.text


def test_clients_speak_the_new_versions(sim, image_ids):
    """The stock CLI and openstacksdk: a flavor's description (2.55), tags at boot (2.52), embedded flavor."""
    name = unique("flv")
    made = sim.openstack("--os-compute-api-version", "2.55", "flavor", "create", "--ram", "64", "--vcpus", "1",
                         "--disk", "1", "--description", "tiny", "-f", "json", name)
    try:
        assert made["description"] == "tiny"
        conn = sim.sdk()
        shown = conn.compute.get_flavor(made["id"])
        assert shown.description == "tiny"
        server = conn.compute.create_server(name=unique("mv"), image_id=image_ids[0], flavor_id=made["id"],
                                            networks="none", tags=["sdk"])
        try:
            server = conn.compute.wait_for_server(server, wait=30, interval=0.2)
            assert server.tags == ["sdk"]
            assert server.flavor.original_name == name and server.flavor.vcpus == 1
            shown = sim.openstack("--os-compute-api-version", "2.69", "server", "show", "-f", "json", server.id)
            assert shown["tags"] == ["sdk"] and name in str(shown["flavor"])
        finally:
            conn.compute.delete_server(server)
            conn.compute.wait_for_delete(server, wait=30, interval=0.2)
    finally:
        sim.openstack("flavor", "delete", made["id"])


def test_multiattach_volumes_2_60(sim, tenant, image_ids):
    """Below 2.60 Nova refuses multiattach volumes (400); from 2.60 this driver, which cannot share a disk
    between instances, answers as Nova's MultiattachNotSupportedByVirtDriver: 409 on attach, a failed build."""
    base = f"/volume/v3/{tenant.project_id}"
    with sim.http(sim.token()) as adm, sim.http(tenant.users["member"][3]) as member:
        vtype = adm.post("/volume/v3/types", json={"volume_type": {
            "name": unique("ma"), "extra_specs": {"multiattach": "<is> True"}}}).json()["volume_type"]
        vol = member.post(f"{base}/volumes", json={"volume": {"size": 1, "volume_type": vtype["name"]}}).json()["volume"]
        made = None
        try:
            for _ in range(100):
                shown = member.get(f"{base}/volumes/{vol['id']}").json()["volume"]
                if shown["status"] == "available":
                    break
                time.sleep(0.1)
            assert shown["status"] == "available" and shown["multiattach"] is True
            server = boot(tenant.member, image_ids[0], name=unique("ma"))
            try:
                for version, status, text in (("2.59", 400, "2.60"), ("2.60", 409, "multiattach")):
                    with tenant.client(version=version) as client:
                        resp = client.post(f"/servers/{server['id']}/os-volume_attachments",
                                           json={"volumeAttachment": {"volumeId": vol["id"]}})
                        assert resp.status_code == status and text in resp.text, resp.text
                bdm = [{"boot_index": 0, "uuid": vol["id"], "source_type": "volume", "destination_type": "volume"}]
                body = {"server": {"name": unique("ma"), "flavorRef": "6", "networks": "none",
                                   "block_device_mapping_v2": bdm}}
                with tenant.client(version="2.59") as v259:
                    assert v259.post("/servers", json=body).status_code == 400
                with tenant.client(version="2.60") as v260:
                    resp = v260.post("/servers", json=body)
                    assert resp.status_code == 202, resp.text
                    made = resp.json()["server"]["id"]
                    failed = wait_status(v260, made, "ERROR")
                    assert "has 'multiattach' set" in failed["fault"]["message"]
            finally:
                tenant.member.delete(f"/servers/{server['id']}")
                if made:
                    tenant.member.delete(f"/servers/{made}")
                    wait_status(tenant.member, made, "DELETED")
                wait_status(tenant.member, server["id"], "DELETED")
        finally:
            for _ in range(100):
                if member.delete(f"{base}/volumes/{vol['id']}").status_code in (202, 404):
                    break
                time.sleep(0.1)
            for _ in range(100):
                if adm.delete(f"/volume/v3/types/{vtype['id']}").status_code in (202, 404):
                    break
                time.sleep(0.1)


def test_flavor_extra_specs_2_61_and_event_hosts_2_62(admin, tenant, server, schemas):
    with admin("2.61") as a261, admin("2.60") as a260:
        check(a261.get("/flavors/detail"), schemas(61, "flavors").list_flavors_details)
        shown = check(a261.get("/flavors/6"), schemas(61, "flavors").create_update_get_flavor_details)["flavor"]
        assert shown["extra_specs"] == {}
        assert "extra_specs" not in a260.get("/flavors/6").json()["flavor"]
        assert "extra_specs" not in a261.get("/flavors").json()["flavors"][0]
    create = tenant.member.get(f"/servers/{server['id']}/os-instance-actions").json()["instanceActions"][-1]
    assert create["action"] == "create"
    path = f"/servers/{server['id']}/os-instance-actions/{create['request_id']}"
    with admin("2.62") as a262, tenant.client(version="2.62") as m262:
        events = check(a262.get(path), schemas(62, "servers").show_instance_action)["instanceAction"]["events"]
        assert events and all(e["host"] == "kumo" and len(e["hostId"]) == 56 for e in events)
        events = check(m262.get(path), schemas(62, "servers").show_instance_action)["instanceAction"]["events"]
        assert events and all("host" not in e and e["hostId"] == events[0]["hostId"] for e in events)
        assert events[0]["hostId"] == m262.get(f"/servers/{server['id']}").json()["server"]["hostId"]
    with admin("2.61") as a261:
        assert "hostId" not in a261.get(path).json()["instanceAction"]["events"][0]


def test_trusted_image_certificates_2_63(tenant, image_ids, schemas):
    """Kept and shown from 2.63; this driver cannot validate them, so, as Nova's compute without
    ``supports_trusted_certs``, a build (or rebuild) asked to is aborted."""
    certs = ["0b5d2c72-12cc-4ba6-a8d7-3ff5cc1d8cb8", "674736e3-f25c-405c-8362-bbf991e0ce0a"]
    body = {"server": {"name": unique("tc"), "imageRef": image_ids[0], "flavorRef": "6", "networks": "none",
                       "trusted_image_certificates": certs}}
    made = plain = None
    with tenant.client(version="2.63") as v263, tenant.client(version="2.62") as v262:
        try:
            assert v262.post("/servers", json=body).status_code == 400
            bad = {"server": {**body["server"], "trusted_image_certificates": []}}
            assert v263.post("/servers", json=bad).status_code == 400
            resp = v263.post("/servers", json=body)
            assert resp.status_code == 202, resp.text
            made = resp.json()["server"]["id"]
            failed = wait_status(v263, made, "ERROR")
            assert failed["trusted_image_certificates"] == certs
            assert "does not support certificate validation" in failed["fault"]["message"]
            check(v263.get(f"/servers/{made}"), schemas(63, "servers").get_server)
            check(v263.get("/servers/detail"), schemas(63, "servers").list_servers_detail)
            assert "trusted_image_certificates" not in v262.get(f"/servers/{made}").json()["server"]
            plain = boot(v263, image_ids[0], name=unique("tc"))
            assert plain["trusted_image_certificates"] is None
            check(v263.put(f"/servers/{plain['id']}", json={"server": {"name": unique("tc")}}),
                  schemas(63, "servers").update_server)
            resp = v262.post(f"/servers/{plain['id']}/action", json={"rebuild": {
                "imageRef": image_ids[1], "trusted_image_certificates": certs}})
            assert resp.status_code == 400
            resp = v263.post(f"/servers/{plain['id']}/action", json={"rebuild": {
                "imageRef": image_ids[1], "trusted_image_certificates": None}})
            shown = check(resp, schemas(63, "servers").rebuild_server_with_admin_pass)["server"]
            assert shown["trusted_image_certificates"] is None
            wait_status(v263, plain["id"], "ACTIVE")
            resp = v263.post(f"/servers/{plain['id']}/action", json={"rebuild": {
                "imageRef": image_ids[1], "trusted_image_certificates": certs}})
            assert resp.json()["server"]["trusted_image_certificates"] == certs
            assert "certificate validation" in wait_status(v263, plain["id"], "ERROR")["fault"]["message"]
        finally:
            for ident in (made, plain and plain["id"]):
                if ident:
                    v263.delete(f"/servers/{ident}")
                    wait_status(v263, ident, "DELETED")


def test_changes_before_2_66(tenant, server):
    sid = server["id"]
    with tenant.client(version="2.66") as v266, tenant.client(version="2.65") as v265:
        before = "2999-01-01T00:00:00Z"
        listed = v266.get("/servers", params={"changes-before": before}).json()["servers"]
        assert sid in [s["id"] for s in listed]
        early = "2000-01-01T00:00:00Z"
        assert sid not in [s["id"] for s in v266.get("/servers", params={"changes-before": early}).json()["servers"]]
        # ignored before 2.66, as any unknown filter
        assert sid in [s["id"] for s in v265.get("/servers", params={"changes-before": early}).json()["servers"]]
        resp = v266.get("/servers", params={"changes-since": before, "changes-before": early})  # since > before
        assert resp.status_code == 400
        assert v266.get("/servers", params={"changes-before": "yesterday"}).status_code == 400
        actions = v266.get(f"/servers/{sid}/os-instance-actions", params={"changes-before": early}).json()
        assert actions["instanceActions"] == []
        actions = v266.get(f"/servers/{sid}/os-instance-actions",
                           params={"changes-before": "2999-01-01T00:00:00Z"}).json()["instanceActions"]
        assert actions and actions[-1]["action"] == "create"


def test_volume_type_at_boot_2_67(sim, tenant, image_ids):
    with sim.http(sim.token()) as adm, sim.http(tenant.users["member"][3]) as member:
        vtype = adm.post("/volume/v3/types", json={"volume_type": {"name": unique("bt")}}).json()["volume_type"]
        made = None
        try:
            bdm = {"boot_index": 0, "uuid": image_ids[0], "source_type": "image", "destination_type": "volume",
                   "volume_size": 1, "delete_on_termination": True, "volume_type": vtype["name"]}
            body = {"server": {"name": unique("bt"), "flavorRef": "6", "networks": "none",
                               "block_device_mapping_v2": [bdm]}}
            with tenant.client(version="2.66") as v266:
                resp = v266.post("/servers", json=body)
                assert resp.status_code == 400 and "volume_type" in resp.text
            with tenant.client(version="2.67") as v267:
                for change, text in (({"volume_type": "no-such-type"}, "could not be found"),
                                     ({"source_type": "volume", "uuid": str(uuid.uuid4())}, "existing volume"),
                                     ({"destination_type": "local"}, "destination_type=local")):
                    resp = v267.post("/servers", json={"server": {**body["server"],
                                                                  "block_device_mapping_v2": [{**bdm, **change}]}})
                    assert resp.status_code == 400 and text in resp.text, resp.text
                resp = v267.post("/servers", json=body)
                assert resp.status_code == 202, resp.text
                made = resp.json()["server"]["id"]
                wait_status(v267, made, "ACTIVE")
                root = v267.get(f"/servers/{made}/os-volume_attachments").json()["volumeAttachments"][0]
                volume = member.get(f"/volume/v3/{tenant.project_id}/volumes/{root['volumeId']}").json()["volume"]
                assert volume["volume_type"] == vtype["name"]
        finally:
            if made:
                tenant.member.delete(f"/servers/{made}")
                wait_status(tenant.member, made, "DELETED")
            for _ in range(100):
                if adm.delete(f"/volume/v3/types/{vtype['id']}").status_code in (202, 404):
                    break
                time.sleep(0.1)
