"""Cinder v3 microversions 3.0–3.71: negotiation (raw HTTP), and each version's changes to the resources Kumo
has, through raw HTTP, openstacksdk and the ``openstack`` CLI with ``--os-volume-api-version``."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from tests.volume.conftest import unique

MAX = "3.71"


def mv(version: str) -> dict:
    return {"OpenStack-API-Version": f"volume {version}"}


def _volume_file(tenant, volume_id: str):
    return tenant.cloud.server.data_dir / "volumes" / f"volume-{volume_id}"


def test_versions_document_and_negotiation(tenant):
    http = tenant.http
    (v3,) = http.get("/volume/").json()["versions"]
    assert (v3["min_version"], v3["version"]) == ("3.0", MAX)
    assert http.get("/volume/v3/").json()["versions"][0]["version"] == MAX
    url = f"{tenant.base}/volumes"
    cases = [
        ({}, 200, "3.0"),  # none asked: 3.0
        (mv("3.27"), 200, "3.27"),
        (mv("latest"), 200, MAX),
        ({"OpenStack-API-Version": "3.45"}, 200, "3.45"),  # the legacy form: a bare version
        ({"OpenStack-API-Version": "compute 2.60, volume 3.12"}, 200, "3.12"),  # another service's ignored
        ({"OpenStack-API-Version": "volume 3.5, volume 3.9"}, 200, "3.9"),  # the last one wins
        (mv("3.72"), 406, None), (mv("4.0"), 406, None), (mv("2.0"), 406, None),
        (mv("3.x"), 400, None), (mv("3.01"), 400, None), (mv("Latest"), 400, None),
    ]
    for headers, status, echoed in cases:
        resp = http.get(url, headers=headers)
        assert resp.status_code == status, (headers, resp.text)
        assert resp.headers["Vary"] == "OpenStack-API-Version"
        if echoed:
            assert resp.headers["OpenStack-API-Version"] == f"volume {echoed}"
    resp = http.get(url, headers=mv("3.72"))
    assert resp.json()["notAcceptable"]["message"] == ("Version 3.72 is not supported by the API. Minimum is 3.0 "
                                                       f"and maximum is {MAX}.")
    assert "badRequest" in http.get(url, headers=mv("3.x")).json()
    # 3.67: the project may be left out of the URL (it is the token's)
    vol = tenant.create_volume(wait="available", name=unique("noproj"))
    resp = http.get(f"/volume/v3/volumes/{vol['id']}", headers=mv("3.67"))
    assert resp.status_code == 200 and resp.json()["volume"]["id"] == vol["id"]
    assert vol["id"] in [v["id"] for v in http.get("/volume/v3/volumes").json()["volumes"]]
    # a version-gated resource below its version: Cinder's 404
    assert http.get(f"{tenant.base}/volumes/summary", headers=mv("3.11")).status_code == 404
    assert http.get(f"{tenant.base}/attachments", headers=mv("3.26")).status_code == 404
    # resources not built here (backups, groups, messages, transfers) are unknown, at any version
    for path in ("backups", "groups", "messages", "os-volume-transfer"):
        resp = http.get(f"{tenant.base}/{path}", headers=mv(MAX))
        assert resp.status_code == 404 and "itemNotFound" in resp.json(), path


def test_volume_and_snapshot_fields_per_version(tenant, cloud, admin_project):
    vol = tenant.create_volume(name=unique("fields"))
    show = f"{tenant.base}/volumes/{vol['id']}"

    def fields(version, http=tenant.http, url=show):
        return tenant_json(http.get(url, headers=mv(version)), "volume")

    added = {"group_id", "provider_id", "shared_targets", "service_uuid", "cluster_name", "volume_type_id",
             "consumes_quota", "encryption_key_id"}
    assert not added & set(fields("3.0"))
    assert "group_id" not in fields("3.12") and fields("3.13")["group_id"] is None
    v = fields("3.48")
    assert v["shared_targets"] is False and str(uuid.UUID(v["service_uuid"])) == v["service_uuid"]
    assert "volume_type_id" not in v and "consumes_quota" not in v
    v = fields("3.65")
    type_id = tenant.http.get(f"{tenant.base}/types").json()["volume_types"][0]["id"]
    assert v["volume_type_id"] == type_id and v["volume_type"] == "__DEFAULT__" and v["consumes_quota"] is True
    assert "provider_id" not in v and "cluster_name" not in v and "encryption_key_id" not in v  # admin's / unencrypted
    detail = tenant.http.get(f"{tenant.base}/volumes/detail", headers=mv(MAX)).json()["volumes"]
    assert {d["id"]: d for d in detail}[vol["id"]]["consumes_quota"] is True
    adm = cloud.http(cloud.token())
    admin_view = fields("3.61", http=adm, url=f"/volume/v3/{admin_project}/volumes/{vol['id']}")
    assert admin_view["provider_id"] is None and admin_view["cluster_name"] is None
    assert "cluster_name" not in fields("3.60", http=adm, url=f"/volume/v3/{admin_project}/volumes/{vol['id']}")

    # snapshots: group_snapshot_id (3.14), user_id (3.41), consumes_quota (3.65); 3.66 needs no force in-use
    resp = tenant.http.post(f"{tenant.base}/snapshots", headers=mv("3.66"),
                            json={"snapshot": {"volume_id": vol["id"], "name": unique("snap")}})
    assert resp.status_code == 202, resp.text
    snap = resp.json()["snapshot"]
    assert snap["user_id"] == tenant.user.id and snap["consumes_quota"] is True and snap["group_snapshot_id"] is None
    snap = tenant.wait_snapshot(snap["id"], "available")
    assert "user_id" not in snap and "group_snapshot_id" not in snap  # 3.0
    s = tenant_json(tenant.http.get(f"{tenant.base}/snapshots/{snap['id']}", headers=mv("3.40")), "snapshot")
    assert s["group_snapshot_id"] is None and "user_id" not in s
    listed = tenant.http.get(f"{tenant.base}/snapshots", headers=mv(MAX)).json()["snapshots"]
    assert "user_id" not in listed[0]  # the summary list has none of them
    for version, found in (("3.21", True), ("3.22", False)):  # the metadata filter of snapshot lists: 3.22
        listed = tenant.http.get(f"{tenant.base}/snapshots", headers=mv(version),
                                 params={"metadata": "{'no': 'such'}"}).json()["snapshots"]
        assert (snap["id"] in [x["id"] for x in listed]) is found
    resp = tenant.http.post(f"{tenant.base}/snapshots", headers=mv("3.66"),
                            json={"snapshot": {"volume_id": vol["id"], "force": False}})
    assert resp.status_code == 400

    # the same through openstacksdk, which negotiates up to 3.71
    conn = tenant.sdk()
    got = conn.block_storage.get_volume(vol["id"])
    assert got.volume_type_id == type_id and got.consumes_quota is True and got.shared_targets is False
    assert conn.block_storage.get_snapshot(snap["id"]).user_id == tenant.user.id
    shown = tenant.cli("--os-volume-api-version", "3.65", "volume", "show", vol["id"], "-f", "json")
    assert shown["consumes_quota"] is True and shown["volume_type_id"] == type_id
    assert tenant.http.delete(f"{tenant.base}/snapshots/{snap['id']}").status_code == 202
    tenant.wait_snapshot(snap["id"], "gone")


def tenant_json(resp, key: str) -> dict:
    assert resp.status_code == 200, resp.text
    return resp.json()[key]


def test_summary_count_and_filters(new_tenant):
    t = new_tenant()
    a = t.create_volume(wait=None, name="alpha-one", size=1, metadata={"tier": "gold"})
    b = t.create_volume(wait=None, name="beta-two", size=2, metadata={"tier": "silver", "x": "y"})
    t.wait_volume(a["id"], "available")
    t.wait_volume(b["id"], "available")
    url = f"{t.base}/volumes"

    def ids(version, **params):
        resp = t.http.get(url, headers=mv(version), params=params)
        assert resp.status_code == 200, resp.text
        return {v["id"] for v in resp.json()["volumes"]}, resp.json()

    summary = t.http.get(f"{url}/summary", headers=mv("3.12")).json()["volume-summary"]
    assert summary == {"total_count": 2, "total_size": 3}
    summary = t.http.get(f"{url}/summary", headers=mv("3.36")).json()["volume-summary"]
    assert summary["metadata"] == {"tier": ["gold", "silver"], "x": ["y"]}
    # with_count (3.45): the count of all matches, whatever the page
    _, body = ids("3.45", with_count="true", limit=1)
    assert body["count"] == 2 and len(body["volumes"]) == 1 and "volumes_links" in body
    assert "count" not in ids("3.44", with_count="true")[1]
    # like filters (3.34), unknown filters refused (3.31) or dropped (before)
    assert ids("3.34", **{"name~": "ALPHA"})[0] == {a["id"]}
    assert t.http.get(url, headers=mv("3.33"), params={"name~": "alpha"}).status_code == 400
    assert t.http.get(url, headers=mv("3.31"), params={"bogus": "1"}).status_code == 400
    assert ids("3.30", bogus="1")[0] == {a["id"], b["id"]}
    assert ids("3.0", metadata="{'tier': 'silver'}")[0] == {b["id"]}
    # bootable must be a boolean from 3.2; group_id (3.10) matches nothing here
    assert t.http.get(url, headers=mv("3.2"), params={"bootable": "maybe"}).status_code == 400
    assert ids("3.1", bootable="maybe")[0] == set()  # read as true: no bootable volume
    assert ids("3.10", group_id=str(uuid.uuid4()))[0] == set()
    # time comparisons (3.60)
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert ids("3.60", created_at=f"lt:{later}")[0] == {a["id"], b["id"]}
    assert ids("3.60", created_at=f"gte:{later}")[0] == set()
    assert t.http.get(url, headers=mv("3.60"), params={"created_at": f"near:{later}"}).status_code == 400
    filters = t.http.get(f"{t.base}/resource_filters", headers=mv("3.33"), params={"resource": "volume"}).json()
    assert "name" in filters["resource_filters"][0]["filters"]
    # the CLI's volume summary (3.12; its metadata from 3.36)
    out = t.cli("--os-volume-api-version", "3.36", "volume", "summary", "-f", "json")
    assert out["Total Count"] == 2 and out["Total Size"] == 3 and out["Metadata"]["x"] == ["y"]


def test_attachments_api_flow_and_in_use_extend(tenant):
    vol = tenant.create_volume(name=unique("att"))
    server = str(uuid.uuid4())
    conn = tenant.sdk()
    att = conn.block_storage.create_attachment(vol["id"], instance=server)  # no connector: a reservation
    assert att.status == "reserved" and att.connection_info is None
    assert tenant.wait_volume(vol["id"], "reserved")["attachments"] == []  # only attached ones are listed
    h = mv("3.54")
    resp = tenant.http.post(f"{tenant.base}/attachments", headers=h,
                            json={"attachment": {"volume_uuid": vol["id"], "instance_uuid": server}})
    assert resp.status_code == 400  # not multiattach: one at a time
    resp = tenant.http.put(f"{tenant.base}/attachments/{att.id}", headers=h, json={"attachment": {"connector": {
        "host": "kumo-test", "mountpoint": "/dev/vdb", "mode": "rw"}}})
    assert resp.status_code == 200, resp.text
    body = resp.json()["attachment"]
    assert body["status"] == "attaching" and body["connection_info"]["driver_volume_type"] == "local"
    assert tenant.wait_volume(vol["id"], "attaching")
    # os-complete (3.44)
    assert tenant.http.post(f"{tenant.base}/attachments/{att.id}/action", headers=mv("3.43"),
                            json={"os-complete": {}}).status_code == 404
    conn.block_storage.complete_attachment(att.id)
    volume = tenant.wait_volume(vol["id"], "in-use")
    assert [(a["attachment_id"], a["server_id"], a["device"]) for a in volume["attachments"]] == \
        [(att.id, server, "/dev/vdb")]
    listed = tenant.http.get(f"{tenant.base}/attachments/detail", headers=h,
                             params={"volume_id": vol["id"]}).json()["attachments"]
    assert [(a["id"], a["status"], a["instance"], a["attach_mode"]) for a in listed] == \
        [(att.id, "attached", server, "rw")]
    # 3.42: an in-use volume grows (before: 400); it is in-use again after
    extend = {"os-extend": {"new_size": 2}}
    action = f"{tenant.base}/volumes/{vol['id']}/action"
    assert tenant.http.post(action, headers=mv("3.41"), json=extend).status_code == 400
    assert tenant.http.post(action, headers=mv("3.42"), json=extend).status_code == 202
    deadline = time.monotonic() + 30
    while (v := tenant.http.get(f"{tenant.base}/volumes/{vol['id']}").json()["volume"])["status"] != "in-use" \
            or v["size"] != 2:
        assert v["status"] in ("extending", "in-use") and time.monotonic() < deadline, v
        time.sleep(0.05)
    assert _volume_file(tenant, vol["id"]).stat().st_size == 2 << 30
    # 3.71: nothing waits on Nova here, so the completion is refused as Cinder refuses an unexpected one
    resp = tenant.http.post(action, headers=mv("3.71"), json={"os-extend_volume_completion": {"error": False}})
    assert resp.status_code == 400
    resp = tenant.http.delete(f"{tenant.base}/attachments/{att.id}", headers=h)
    assert resp.status_code == 200 and resp.json() == {"attachments": []}
    assert tenant.wait_volume(vol["id"], "available")["attachments"] == []
    assert tenant.http.get(f"{tenant.base}/attachments/{att.id}", headers=h).status_code == 404


def test_revert_to_snapshot_and_reimage(tenant, cloud, admin_project):
    vol = tenant.create_volume(name=unique("revert"))
    path = _volume_file(tenant, vol["id"])
    with open(path, "r+b") as fh:
        fh.write(b"before-snapshot")
    snap = tenant.http.post(f"{tenant.base}/snapshots", json={"snapshot": {"volume_id": vol["id"]}}).json()
    snap = tenant.wait_snapshot(snap["snapshot"]["id"], "available")
    with open(path, "r+b") as fh:
        fh.write(b"after--snapshot")
    action = f"{tenant.base}/volumes/{vol['id']}/action"
    assert tenant.http.post(action, headers=mv("3.39"), json={"revert": {"snapshot_id": snap["id"]}}).status_code \
        == 404  # no such action before 3.40
    assert tenant.http.post(action, headers=mv("3.40"), json={"revert": {"snapshot_id": str(uuid.uuid4())}}) \
        .status_code == 400  # not its latest snapshot
    # the CLI (3.40) names the snapshot; the volume is reverting, then available with the old bytes
    tenant.cli("--os-volume-api-version", "3.40", "volume", "revert", snap["id"])
    tenant.wait_volume(vol["id"], "available")
    tenant.wait_snapshot(snap["id"], "available")
    assert path.read_bytes()[:15] == b"before-snapshot"
    assert tenant.http.delete(f"{tenant.base}/snapshots/{snap['id']}").status_code == 202
    tenant.wait_snapshot(snap["id"], "gone")

    images = tenant.http.get("/image/v2/images", params={"name": "busybox"}).json().get("images", [])
    assert images, "the interop cloud registers the busybox image"
    image = images[0]
    reimage = {"os-reimage": {"image_id": image["id"]}}
    assert tenant.http.post(action, headers=mv("3.67"), json=reimage).status_code == 404
    assert tenant.http.post(action, headers=mv("3.68"), json=reimage).status_code == 202
    volume = tenant.wait_volume(vol["id"], "available")
    assert volume["bootable"] == "true" and volume["volume_image_metadata"]["image_id"] == image["id"]
    head = tenant.http.get(f"/image/v2/images/{image['id']}/file").content[:4096]
    assert path.read_bytes()[:4096] == head and path.stat().st_size == 1 << 30
    # 3.4: volumes by their image metadata, an admin's filter (a member's is dropped, from 3.31 refused)
    wanted = {"glance_metadata": f"{{'image_id': '{image['id']}'}}"}
    other = tenant.create_volume(name=unique("plain"))
    adm, url = cloud.http(cloud.token()), f"/volume/v3/{admin_project}/volumes"
    params = {**wanted, "all_tenants": "1", "project_id": tenant.project_id}
    found = {v["id"] for v in adm.get(url, headers=mv("3.4"), params=params).json()["volumes"]}
    assert found == {vol["id"]}
    assert {v["id"] for v in adm.get(url, headers=mv("3.3"), params=params).json()["volumes"]} >= {vol["id"],
                                                                                                  other["id"]}
    mine = f"{tenant.base}/volumes"
    assert other["id"] in {v["id"] for v in tenant.http.get(mine, headers=mv("3.4"), params=wanted).json()["volumes"]}
    assert tenant.http.get(mine, headers=mv("3.31"), params=wanted).status_code == 400


def test_metadata_etags_and_delete_force(tenant, cloud, admin_project):
    vol = tenant.create_volume(name=unique("etag"), metadata={"a": "1"})
    meta = f"{tenant.base}/volumes/{vol['id']}/metadata"
    assert "ETag" not in tenant.http.get(meta).headers
    resp = tenant.http.get(meta, headers=mv("3.15"))
    etag = resp.headers["ETag"]
    stale = {**mv("3.15"), "If-Match": f'"{etag}"'}
    assert tenant.http.put(meta, headers=stale, json={"metadata": {"a": "2"}}).status_code == 200
    assert tenant.http.put(meta, headers=stale, json={"metadata": {"a": "3"}}).status_code == 412  # lost update
    assert tenant.http.get(meta).json()["metadata"] == {"a": "2"}
    assert tenant.http.get(meta, headers=mv("3.15")).headers["ETag"] != etag
    # ?force=true (3.23) is an admin's; a member is refused, below 3.23 it is not read
    resp = tenant.http.delete(f"{tenant.base}/volumes/{vol['id']}", headers=mv("3.23"), params={"force": "true"})
    assert resp.status_code == 403
    adm = cloud.http(cloud.token())
    tenant.http.post(f"{tenant.base}/volumes/{vol['id']}/action", json={"os-reserve": None})
    resp = adm.delete(f"/volume/v3/{admin_project}/volumes/{vol['id']}", headers=mv("3.22"),
                      params={"force": "true"})
    assert resp.status_code == 400  # attaching, and force not read at 3.22
    resp = adm.delete(f"/volume/v3/{admin_project}/volumes/{vol['id']}", headers=mv("3.23"),
                      params={"force": "true"})
    assert resp.status_code == 202
    tenant.wait_volume(vol["id"], "gone")


def test_default_types_limits_and_type_filters(new_tenant, cloud, admin_project):
    t = new_tenant()
    adm = cloud.http(cloud.token())
    base = f"/volume/v3/{admin_project}"
    name = unique("dtype")
    vtype = adm.post(f"{base}/types", json={"volume_type": {"name": name, "extra_specs": {
        "multiattach": "<is> True", "color": "red"}}}).json()["volume_type"]
    try:
        h = mv("3.62")
        assert adm.put(f"/volume/v3/default-types/{t.project_id}", headers=mv("3.61"),
                       json={"default_type": {"volume_type": name}}).status_code == 404
        resp = adm.put(f"/volume/v3/default-types/{t.project_id}", headers=h,
                       json={"default_type": {"volume_type": name}})
        assert resp.status_code == 200 and resp.json()["default_type"] == {"project_id": t.project_id,
                                                                           "volume_type_id": vtype["id"]}
        assert t.http.get(f"/volume/v3/default-types/{t.project_id}", headers=h).status_code == 403
        listed = adm.get(f"{base}/default-types", headers=h).json()["default_types"]
        assert {"project_id": t.project_id, "volume_type_id": vtype["id"]} in listed
        # the project's volumes without a type get it (and its multiattach extra spec, 3.50)
        assert t.http.get(f"{t.base}/types/default").json()["volume_type"]["name"] == name
        vol = t.create_volume(wait="available", name=unique("typed"))
        assert vol["volume_type"] == name and vol["multiattach"] is True
        assert adm.delete(f"{base}/types/{vtype['id']}").status_code == 400  # in use
        assert adm.delete(f"/volume/v3/default-types/{t.project_id}", headers=h).status_code == 204
        assert adm.get(f"/volume/v3/default-types/{t.project_id}", headers=h).status_code == 404
        assert t.http.get(f"{t.base}/types/default").json()["volume_type"]["name"] == "__DEFAULT__"
        # 3.52: types by extra specs
        found = adm.get(f"{base}/types", headers=mv("3.52"), params={"extra_specs": "{'color': 'red'}"}).json()
        assert [x["id"] for x in found["volume_types"]] == [vtype["id"]]
        assert len(adm.get(f"{base}/types", headers=mv("3.51"),
                           params={"extra_specs": "{'color': 'red'}"}).json()["volume_types"]) > 1
        # 3.39: an admin reads another project's limits
        used = adm.get(f"{base}/limits", headers=mv("3.39"), params={"project_id": t.project_id}).json()
        assert used["limits"]["absolute"]["totalVolumesUsed"] == 1
        before = adm.get(f"{base}/limits", headers=mv("3.38"), params={"project_id": t.project_id}).json()
        assert before == adm.get(f"{base}/limits").json()  # the parameter is not read before 3.39
        assert t.http.delete(f"{t.base}/volumes/{vol['id']}").status_code == 202
        t.wait_volume(vol["id"], "gone")
    finally:
        adm.delete(f"/volume/v3/default-types/{t.project_id}", headers=mv("3.62"))
        adm.delete(f"{base}/types/{vtype['id']}")
