"""Nova's microversions 2.39 … 2.85: each reply checked against Tempest's response schema of its version
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
        pytest.skip("Tempest is not installed in .interop/venv (`make setup` installs it)")
    # only the tempest package from that virtualenv: its schema modules are plain dicts
    sys.path.append(str(TEMPEST))
    try:
        yield lambda minor, name: importlib.import_module(
            f"tempest.lib.api_schema.response.compute.v2_{minor}.{name}")
    finally:
        sys.path.remove(str(TEMPEST))


def check(resp, schema: dict) -> dict:
    """As Tempest's rest client: the status code, then the body against the schema (Draft 4, with Draft 4's
    format checker as Tempest's: Neutron's dashless ids are not checked as ``uuid``)."""
    expected = schema["status_code"]
    assert resp.status_code in expected, (resp.status_code, resp.text)
    body = resp.json() if resp.content else None
    if "response_body" in schema:
        jsonschema.Draft4Validator(schema["response_body"],
                                   format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER).validate(body)
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


def _volume(member, project_id: str) -> dict:
    base = f"/volume/v3/{project_id}"
    vol = member.post(f"{base}/volumes", json={"volume": {"size": 1}}).json()["volume"]
    for _ in range(100):
        shown = member.get(f"{base}/volumes/{vol['id']}").json()["volume"]
        if shown["status"] == "available":
            return shown
        time.sleep(0.1)
    raise AssertionError(f"volume never available: {shown}")


def _wait_volume_gone(member, project_id: str, volume_id: str) -> None:
    for _ in range(150):
        if member.delete(f"/volume/v3/{project_id}/volumes/{volume_id}").status_code in (202, 404):
            return
        time.sleep(0.1)


def _attached(client, vbase: str, schema: dict) -> list[dict]:
    """The server's volume attachments once the worker has attached the volume (listed from then on)."""
    for _ in range(150):
        listed = check(client.get(vbase), schema)["volumeAttachments"]
        if listed:
            return listed
        time.sleep(0.1)
    raise AssertionError("the volume was never attached")


def test_device_tags_shown_2_70(sim, tenant, image_ids, schemas):
    """Tags given at boot (``networks[].tag``) and at attach (volume, interface) are kept and shown from 2.70."""
    neutron = sim.http(tenant.users["member"][3])
    nova_ = tenant.member
    vol = made = None
    try:
        net = neutron.post("/network/v2.0/networks", json={"network": {"name": unique("net")}}).json()["network"]
        neutron.post("/network/v2.0/subnets", json={"subnet": {"network_id": net["id"], "cidr": "10.125.0.0/24",
                                                              "ip_version": 4}})
        with tenant.client(version="2.70") as v270, tenant.client(version="2.69") as v269:
            made = boot(v270, image_ids[0], name=unique("tg"), networks=[{"uuid": net["id"], "tag": "boot-nic"}])
            base = f"/servers/{made['id']}/os-interface"
            listed = check(v270.get(base), schemas(70, "interfaces").list_interfaces)["interfaceAttachments"]
            assert [i["tag"] for i in listed] == ["boot-nic"]
            added = check(v270.post(base, json={"interfaceAttachment": {"net_id": net["id"], "tag": "nic2"}}),
                          schemas(70, "interfaces").get_create_interfaces)["interfaceAttachment"]
            assert added["tag"] == "nic2"
            untagged = v270.post(base, json={"interfaceAttachment": {"net_id": net["id"]}}).json()
            assert untagged["interfaceAttachment"]["tag"] is None
            shown = check(v270.get(f"{base}/{added['port_id']}"), schemas(70, "interfaces").get_create_interfaces)
            assert shown["interfaceAttachment"]["tag"] == "nic2"
            assert all("tag" not in i for i in v269.get(base).json()["interfaceAttachments"])
            assert v270.delete(f"{base}/{added['port_id']}").status_code == 202

            vol = _volume(neutron, tenant.project_id)
            vbase = f"/servers/{made['id']}/os-volume_attachments"
            attached = check(v270.post(vbase, json={"volumeAttachment": {"volumeId": vol["id"], "tag": "disk1"}}),
                             schemas(70, "servers").attach_volume)["volumeAttachment"]
            assert attached["tag"] == "disk1"
            listed = _attached(v270, vbase, schemas(70, "servers").list_volume_attachments)
            assert [a["tag"] for a in listed] == ["disk1"]
            check(v270.get(f"{vbase}/{vol['id']}"), schemas(70, "servers").show_volume_attachment)
            assert "tag" not in v269.get(f"{vbase}/{vol['id']}").json()["volumeAttachment"]
            check(v270.get(f"/servers/{made['id']}"), schemas(70, "servers").get_server)
    finally:
        if made:
            nova_.delete(f"/servers/{made['id']}")
            wait_status(nova_, made["id"], "DELETED")
        if vol:
            _wait_volume_gone(neutron, tenant.project_id, vol["id"])
        neutron.close()


def test_server_groups_2_71_and_locked_reason_2_73(tenant, image_ids, schemas):
    with tenant.client(version="2.73") as v273, tenant.client(version="2.70") as v270, \
            tenant.client(version="2.72") as v272:
        group = v273.post("/os-server-groups", json={"server_group": {"name": unique("g"),
                                                                      "policy": "anti-affinity"}})
        group = group.json()["server_group"]
        made = plain = None
        try:
            plain = boot(v273, image_ids[0], name=unique("sg"))  # in no group
            resp = v273.post("/servers", json={"server": {"name": unique("sg"), "imageRef": image_ids[0],
                                                          "flavorRef": "6", "networks": "none"},
                                               "os:scheduler_hints": {"group": group["id"]}})
            made = resp.json()["server"]
            wait_status(v273, made["id"], "ACTIVE")
            sid = made["id"]
            shown = check(v273.get(f"/servers/{sid}"), schemas(73, "servers").get_server)["server"]
            assert shown["server_groups"] == [group["id"]] and shown["locked_reason"] is None
            assert check(v273.get(f"/servers/{plain['id']}"), schemas(73, "servers").get_server)["server"][
                "server_groups"] == []
            updated = check(v273.put(f"/servers/{sid}", json={"server": {"name": unique("sg")}}),
                            schemas(73, "servers").update_server)["server"]
            assert updated["server_groups"] == [group["id"]]
            assert "server_groups" not in v270.get(f"/servers/{sid}").json()["server"]
            listed = check(v273.get("/servers/detail"), schemas(73, "servers").list_servers_detail)["servers"]
            assert all("server_groups" not in s for s in listed)

            # 2.73: a reason to lock, shown while locked; the ``locked`` filter
            assert v273.post(f"/servers/{sid}/action", json={"lock": {"locked_reason": "x" * 256}}).status_code == 400
            assert v273.post(f"/servers/{sid}/action", json={"lock": {"locked_reason": "maint"}}).status_code == 202
            shown = check(v273.get(f"/servers/{sid}"), schemas(73, "servers").get_server)["server"]
            assert (shown["locked"], shown["locked_reason"]) == (True, "maint")
            assert "locked_reason" not in v272.get(f"/servers/{sid}").json()["server"]
            ids = lambda client, **params: {s["id"] for s in client.get("/servers", params=params).json()["servers"]}
            assert sid in ids(v273, locked="true") and plain["id"] not in ids(v273, locked="true")
            assert plain["id"] in ids(v273, locked="false") and sid not in ids(v273, locked="0")
            assert {sid, plain["id"]} <= ids(v272, locked="true")  # ignored before 2.73
            assert v273.get("/servers", params={"locked": "maybe"}).status_code == 400
            assert v273.post(f"/servers/{sid}/action", json={"unlock": None}).status_code == 202
            # before 2.73 the reason is not read
            assert v272.post(f"/servers/{sid}/action", json={"lock": {"locked_reason": "old"}}).status_code == 202
            assert v273.get(f"/servers/{sid}").json()["server"]["locked_reason"] is None
            assert v273.post(f"/servers/{sid}/action", json={"unlock": None}).status_code == 202
            rebuilt = check(v273.post(f"/servers/{sid}/action", json={"rebuild": {"imageRef": image_ids[1]}}),
                            schemas(73, "servers").rebuild_server_with_admin_pass)["server"]
            assert rebuilt["server_groups"] == [group["id"]] and rebuilt["locked_reason"] is None
            wait_status(v273, sid, "ACTIVE")
        finally:
            for ident in (made and made["id"], plain and plain["id"]):
                if ident:
                    v273.delete(f"/servers/{ident}")
                    wait_status(v273, ident, "DELETED")
            v273.delete(f"/os-server-groups/{group['id']}")


def test_requested_destination_2_74(sim, tenant, image_ids, admin):
    body = {"server": {"name": unique("rd"), "imageRef": image_ids[0], "flavorRef": "6", "networks": "none",
                       "host": "kumo"}}
    with admin("2.74") as a274, admin("2.73") as a273, tenant.client(version="2.74") as m274:
        made = None
        try:
            resp = a273.post("/servers", json=body)
            assert resp.status_code == 400 and "'host' was unexpected" in resp.text
            assert m274.post("/servers", json=body).status_code == 403
            for wrong in ({"host": "elsewhere"}, {"hypervisor_hostname": "elsewhere"}):
                resp = a274.post("/servers", json={"server": {**body["server"], **wrong}})
                assert resp.status_code == 400 and "elsewhere" in resp.text, resp.text
            node = a274.get("/os-hypervisors").json()["hypervisors"][0]["hypervisor_hostname"]
            resp = a274.post("/servers", json={"server": {**body["server"], "hypervisor_hostname": node}})
            assert resp.status_code == 202, resp.text
            made = resp.json()["server"]["id"]
            assert wait_status(a274, made, "ACTIVE")["OS-EXT-SRV-ATTR:host"] == "kumo"
        finally:
            if made:
                a274.delete(f"/servers/{made}")
                wait_status(a274, made, "DELETED")


def test_cleanup_2_75(tenant, admin, server, image_ids, schemas):
    """Unknown list parameters are a 400, update and rebuild show the whole server, a flavor's swap is 0."""
    sid = server["id"]
    with tenant.client(version="2.75") as v275, tenant.client(version="2.74") as v274:
        assert v275.get("/servers", params={"no_such_filter": "x"}).status_code == 400
        assert v275.get("/servers/detail", params={"sort_key": "vcpus"}).status_code == 400
        assert v274.get("/servers", params={"no_such_filter": "x"}).status_code == 200
        listed = v275.get("/servers", params={"name": server["name"], "vm_state": "active", "_x": "1"})
        assert listed.status_code == 200 and [s["id"] for s in listed.json()["servers"]] == [sid]
        updated = check(v275.put(f"/servers/{sid}", json={"server": {"description": "after"}}),
                        schemas(75, "servers").update_server)["server"]
        assert updated["OS-EXT-STS:vm_state"] == "active" and "security_groups" in updated
        assert "OS-EXT-STS:vm_state" not in v274.put(f"/servers/{sid}", json={"server": {}}).json()["server"]
        assert v275.get("/flavors/6").json()["flavor"]["swap"] == 0
        assert v274.get("/flavors/6").json()["flavor"]["swap"] == ""
        made = boot(v275, image_ids[0], name=unique("cl"), user_data="aGk=")
        try:
            rebuilt = check(v275.post(f"/servers/{made['id']}/action", json={"rebuild": {"imageRef": image_ids[1]}}),
                            schemas(75, "servers").rebuild_server_with_admin_pass)["server"]
            assert rebuilt["user_data"] == "aGk=" and rebuilt["key_name"] is None
            wait_status(v275, made["id"], "ACTIVE")
            with admin("2.75") as a275:
                rebuilt = check(a275.post(f"/servers/{made['id']}/action", json={"rebuild": {
                    "imageRef": image_ids[0]}}), schemas(75, "servers").rebuild_server_with_admin_pass)["server"]
                assert rebuilt["OS-EXT-SRV-ATTR:host"] == "kumo" and "OS-EXT-SRV-ATTR:user_data" not in rebuilt
                wait_status(a275, made["id"], "ACTIVE")
                shown = a275.get("/os-hypervisors", params={"with_servers": "true"}).json()["hypervisors"][0]
                assert made["id"] in [s["uuid"] for s in shown["servers"]]
        finally:
            v275.delete(f"/servers/{made['id']}")
            wait_status(v275, made["id"], "DELETED")


def test_topology_2_78_and_delete_on_termination_2_79(tenant, server, image_ids, schemas):
    """2.79: a volume attached with ``delete_on_termination`` goes with the server."""
    with tenant.client(version="2.78") as v278, tenant.client(version="2.77") as v277:
        assert v278.get(f"/servers/{server['id']}/topology").json() == {"nodes": [], "pagesize_kb": None}
        assert v277.get(f"/servers/{server['id']}/topology").status_code == 404
        assert v278.get(f"/servers/{uuid.uuid4()}/topology").status_code == 404
    member = tenant.cloud.http(tenant.users["member"][3])
    vol = _volume(member, tenant.project_id)
    sid = boot(tenant.member, image_ids[0], name=unique("dt"))["id"]
    vbase = f"/servers/{sid}/os-volume_attachments"
    try:
        with tenant.client(version="2.79") as v279, tenant.client(version="2.78") as v278:
            body = {"volumeAttachment": {"volumeId": vol["id"], "delete_on_termination": True}}
            resp = v278.post(vbase, json=body)
            assert resp.status_code == 400 and "delete_on_termination" in resp.text
            attached = check(v279.post(vbase, json=body), schemas(79, "servers").attach_volume)["volumeAttachment"]
            assert attached["delete_on_termination"] is True
            listed = _attached(v279, vbase, schemas(79, "servers").list_volume_attachments)
            shown = v279.get(f"/servers/{sid}").json()["server"]["os-extended-volumes:volumes_attached"]
            assert shown == [{"id": vol["id"], "delete_on_termination": True}]
            assert [a["delete_on_termination"] for a in listed] == [True]
            check(v279.get(f"{vbase}/{vol['id']}"), schemas(79, "servers").show_volume_attachment)
            assert "delete_on_termination" not in v278.get(f"{vbase}/{vol['id']}").json()["volumeAttachment"]
            assert v279.delete(f"/servers/{sid}").status_code == 204
            wait_status(v279, sid, "DELETED")
            sid = None
            for _ in range(100):
                gone = member.get(f"/volume/v3/{tenant.project_id}/volumes/{vol['id']}")
                if gone.status_code == 404:
                    break
                time.sleep(0.1)
            assert gone.status_code == 404, gone.text
    finally:
        if sid:
            tenant.member.delete(f"/servers/{sid}")
            wait_status(tenant.member, sid, "DELETED")
        _wait_volume_gone(member, tenant.project_id, vol["id"])
        member.close()


def test_user_filters_2_83(tenant, server):
    sid = server["id"]
    with tenant.client(version="2.83") as v283, tenant.client(version="2.82") as v282:
        def ids(client, **params):
            resp = client.get("/servers/detail", params=params)
            assert resp.status_code == 200, resp.text
            return {s["id"] for s in resp.json()["servers"]}

        user_id = tenant.users["member"][2]
        assert sid in ids(v283, user_id=user_id, vm_state="active", power_state="1", availability_zone="nova")
        assert sid in ids(v283, created_at=server["created"][:10], progress="100")
        for miss in ({"user_id": "someone-else"}, {"vm_state": "stopped"}, {"power_state": "4"},
                     {"key_name": "no-such-key"}, {"availability_zone": "elsewhere"}, {"terminated_at": "20"}):
            assert sid not in ids(v283, **miss), miss
            assert sid in ids(v282, **miss), miss  # a member's such filters are dropped before 2.83


def test_event_details_2_84(tenant, admin, image_ids, schemas):
    certs = ["0b5d2c72-12cc-4ba6-a8d7-3ff5cc1d8cb8"]
    with tenant.client(version="2.84") as m284:
        resp = m284.post("/servers", json={"server": {"name": unique("ed"), "imageRef": image_ids[0],
                                                      "flavorRef": "6", "networks": "none",
                                                      "trusted_image_certificates": certs}})
        made = resp.json()["server"]["id"]
        try:
            wait_status(m284, made, "ERROR")
            create = m284.get(f"/servers/{made}/os-instance-actions").json()["instanceActions"][-1]
            path = f"/servers/{made}/os-instance-actions/{create['request_id']}"
            with admin("2.84") as a284, admin("2.83") as a283:
                events = check(a284.get(path), schemas(84, "servers").show_instance_action)["instanceAction"]["events"]
                failed = [e for e in events if e["result"] == "Error"]
                assert failed and all("certificate validation" in e["details"] for e in failed)
                assert all(e["details"] is None for e in events if e["result"] != "Error")
                assert all("details" not in e for e in a283.get(path).json()["instanceAction"]["events"])
            events = check(m284.get(path), schemas(84, "servers").show_instance_action)["instanceAction"]["events"]
            assert events and all("details" not in e for e in events)
        finally:
            m284.delete(f"/servers/{made}")
            wait_status(m284, made, "DELETED")


def test_update_volume_attachment_2_85(tenant, admin, server, image_ids):
    member = tenant.cloud.http(tenant.users["member"][3])
    vol = _volume(member, tenant.project_id)
    sid = server["id"]
    vbase = f"/servers/{sid}/os-volume_attachments"
    try:
        with tenant.client(version="2.85") as v285, tenant.client(version="2.84") as v284:
            assert v285.post(vbase, json={"volumeAttachment": {"volumeId": vol["id"]}}).status_code == 200
            shown = _attached(v285, vbase, {"status_code": [200]})[0]
            assert shown["delete_on_termination"] is False
            path = f"{vbase}/{vol['id']}"
            resp = v284.put(path, json={"volumeAttachment": {"volumeId": vol["id"], "delete_on_termination": True}})
            assert resp.status_code == 400
            echoed = {k: shown[k] for k in ("id", "serverId", "device", "volumeId")}  # sent back as shown
            resp = v285.put(path, json={"volumeAttachment": {**echoed, "delete_on_termination": True}})
            assert resp.status_code == 202, resp.text
            assert v285.get(path).json()["volumeAttachment"]["delete_on_termination"] is True
            resp = v285.put(path, json={"volumeAttachment": {"volumeId": vol["id"], "device": "/dev/vdz"}})
            assert resp.status_code == 400 and "not mutable" in resp.text
            other = str(uuid.uuid4())
            assert v285.put(path, json={"volumeAttachment": {"volumeId": other}}).status_code == 403
            with admin("2.85") as a285:
                assert a285.put(path, json={"volumeAttachment": {"volumeId": other}}).status_code == 409
            assert v285.put(f"{vbase}/{other}", json={"volumeAttachment": {"volumeId": other}}).status_code == 404
            assert v285.delete(path).status_code == 202
            for _ in range(100):
                if not v285.get(vbase).json()["volumeAttachments"]:
                    break
                time.sleep(0.1)
    finally:
        _wait_volume_gone(member, tenant.project_id, vol["id"])
        member.close()


def test_cli_lock_reason_and_locked_filter(sim, image_ids):
    """The stock CLI at 2.73: ``server lock --reason`` is shown by ``server show``, found by ``--locked``."""
    conn = sim.sdk()
    made = conn.compute.create_server(name=unique("cli"), image_id=image_ids[0], flavor_id="6", networks="none")
    try:
        made = conn.compute.wait_for_server(made, wait=30, interval=0.2)
        cli = ["server"]
        locked, shown, listed, unlisted, unlocked = sim.openstack_batch(
            [*cli, "lock", "--reason", "maintenance", made.id], [*cli, "show", "-f", "json", made.id],
            [*cli, "list", "--locked", "-f", "json"], [*cli, "list", "--unlocked", "-f", "json"],
            [*cli, "unlock", made.id], env={"OS_COMPUTE_API_VERSION": "2.73"})
        assert not (locked.err or shown.err or listed.err or unlisted.err or unlocked.err), (locked, shown)
        assert (shown.data["locked"], shown.data["locked_reason"]) == (True, "maintenance")
        assert made.id in [s["ID"] for s in listed.data] and made.id not in [s["ID"] for s in unlisted.data]
    finally:
        conn.compute.delete_server(made)
        conn.compute.wait_for_delete(made, wait=30, interval=0.2)
