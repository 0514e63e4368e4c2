"""Cinder v3 over raw HTTP: versions, microversions, wire formats, filters, pagination, negatives, quotas."""

from __future__ import annotations

import concurrent.futures
import time
import uuid

import pytest

from tests.volume.conftest import unique


def test_versions_document(cloud):
    http = cloud.http()
    resp = http.get("/volume/")
    assert resp.status_code == 300
    (v3,) = resp.json()["versions"]
    assert v3["id"] == "v3.0" and v3["min_version"] == "3.0" and v3["status"] == "CURRENT"
    assert v3["links"][0]["href"] == f"{cloud.url}/volume/v3/"
    resp = http.get("/volume/v3/")
    assert resp.status_code == 200 and resp.json()["versions"][0]["id"] == "v3.0"


def test_catalog_lists_block_storage(tenant):
    resp = tenant.http.get("/identity/v3/auth/catalog")
    (entry,) = [e for e in resp.json()["catalog"] if e["type"] == "block-storage"]
    assert entry["name"] == "cinderv3"
    assert entry["endpoints"][0]["url"].endswith(f"/volume/v3/{tenant.project_id}")


def test_microversion_header_echoed_and_checked(tenant):
    resp = tenant.http.get(f"{tenant.base}/volumes", headers={"OpenStack-API-Version": "volume 3.0"})
    assert resp.status_code == 200 and resp.headers["OpenStack-API-Version"] == "volume 3.0"
    resp = tenant.http.get(f"{tenant.base}/volumes", headers={"OpenStack-API-Version": "volume latest"})
    assert resp.headers["OpenStack-API-Version"] == "volume 3.71"
    resp = tenant.http.get(f"{tenant.base}/volumes", headers={"OpenStack-API-Version": "volume 3.999"})
    assert resp.status_code == 406
    assert resp.json()["notAcceptable"]["message"].startswith("Version 3.999 is not supported by the API.")
    resp = tenant.http.get(f"{tenant.base}/volumes", headers={"OpenStack-API-Version": "volume 3.x"})
    assert resp.status_code == 400 and "badRequest" in resp.json()


def test_create_show_update_wire_format(tenant):
    created = tenant.create_volume(wait=None, name="wire", description="d", metadata={"k": "v"})
    assert created["status"] == "creating" and created["bootable"] == "false"
    assert "os-vol-tenant-attr:tenant_id" not in created  # Cinder's create view omits it
    volume = tenant.wait_volume(created["id"], "available")
    uuid.UUID(volume["id"])
    assert volume["size"] == 1 and volume["availability_zone"] == "nova"
    assert volume["volume_type"] == "__DEFAULT__" and volume["metadata"] == {"k": "v"}
    assert volume["os-vol-tenant-attr:tenant_id"] == tenant.project_id
    assert "os-vol-host-attr:host" not in volume  # admin only
    assert volume["links"][0] == {"rel": "self",
                                  "href": f"{tenant.cloud.url}{tenant.base}/volumes/{volume['id']}"}
    resp = tenant.http.put(f"{tenant.base}/volumes/{volume['id']}",
                           json={"volume": {"name": "renamed", "description": "new"}})
    assert resp.status_code == 200
    assert resp.json()["volume"]["name"] == "renamed" and resp.json()["volume"]["description"] == "new"


@pytest.mark.parametrize("size", [0, -1, "abc", "", "#$%", 1.5, True])
def test_create_bad_size_is_400(tenant, size):
    resp = tenant.http.post(f"{tenant.base}/volumes", json={"volume": {"size": size}})
    assert resp.status_code == 400, resp.text
    assert resp.json()["badRequest"]["code"] == 400
    assert "size" in resp.json()["badRequest"]["message"]


def test_create_without_size_is_400(tenant):
    resp = tenant.http.post(f"{tenant.base}/volumes", json={"volume": {"name": "nosize"}})
    assert resp.status_code == 400 and "badRequest" in resp.json()


def test_create_string_size_accepted(tenant):
    volume = tenant.create_volume(size="2")
    assert volume["size"] == 2


@pytest.mark.parametrize("field, what", [("volume_type", "Volume type"), ("snapshot_id", "Snapshot"),
                                         ("source_volid", "Volume")])
def test_create_from_unknown_source_is_404(tenant, field, what):
    ident = str(uuid.uuid4())
    resp = tenant.http.post(f"{tenant.base}/volumes", json={"volume": {"size": 1, field: ident}})
    assert resp.status_code == 404
    assert resp.json() == {"itemNotFound": {"code": 404, "message": f"{what} {ident} could not be found."}}


def test_unknown_volume_and_snapshot_are_404(tenant):
    ident = str(uuid.uuid4())
    for method, path in [("GET", f"volumes/{ident}"), ("DELETE", f"volumes/{ident}"), ("PUT", f"volumes/{ident}"),
                         ("GET", f"snapshots/{ident}"), ("DELETE", f"snapshots/{ident}"),
                         ("GET", "volumes/"), ("POST", f"volumes/{ident}/action")]:
        body = {"volume": {"name": "x"}} if method == "PUT" else ({"os-reserve": {}} if method == "POST" else None)
        resp = tenant.http.request(method, f"{tenant.base}/{path}", json=body)
        assert resp.status_code == 404, (method, path, resp.text)
        assert "itemNotFound" in resp.json()


def test_other_projects_volume_is_404_and_path_project_must_match(tenant, new_tenant):
    other = new_tenant()
    theirs = other.create_volume(wait=None)
    resp = tenant.http.get(f"{tenant.base}/volumes/{theirs['id']}")
    assert resp.status_code == 404
    assert theirs["id"] not in [v["id"] for v in tenant.http.get(f"{tenant.base}/volumes").json()["volumes"]]
    resp = tenant.http.get(f"/volume/v3/{other.project_id}/volumes")
    assert resp.status_code == 400 and resp.json()["badRequest"]["message"] == "Malformed request url"


def test_list_filters_sort_and_pagination(tenant):
    tag = unique("flt")
    made = [tenant.create_volume(wait=None, name=f"{tag}-{i}", metadata={"tag": tag, "i": str(i)})
            for i in range(3)]
    for v in made:
        tenant.wait_volume(v["id"], "available")
    ids = sorted(v["id"] for v in made)
    q = {"metadata": str({"tag": tag})}
    detail = tenant.http.get(f"{tenant.base}/volumes/detail", params={**q, "sort": "id:asc"}).json()
    assert [v["id"] for v in detail["volumes"]] == ids
    assert "volumes_links" not in detail
    by_name = tenant.http.get(f"{tenant.base}/volumes", params={"name": f"{tag}-1"}).json()["volumes"]
    assert [v["name"] for v in by_name] == [f"{tag}-1"]
    assert tenant.http.get(f"{tenant.base}/volumes", params={"status": "null"}).json()["volumes"] == []
    desc = tenant.http.get(f"{tenant.base}/volumes/detail",
                           params={**q, "sort_key": "name", "sort_dir": "desc"}).json()["volumes"]
    assert [v["name"] for v in desc] == [f"{tag}-2", f"{tag}-1", f"{tag}-0"]
    # pages of one, following the next links to the end
    seen, params = [], {**q, "limit": "1", "sort": "id:asc"}
    url = f"{tenant.base}/volumes"
    while True:
        page = tenant.http.get(url, params=params).json()
        seen += [v["id"] for v in page["volumes"]]
        nxt = [link["href"] for link in page.get("volumes_links", []) if link["rel"] == "next"]
        if not nxt:
            break
        url, params = nxt[0], None
    assert seen == ids
    offset = tenant.http.get(f"{tenant.base}/volumes", params={**q, "sort": "id:asc", "offset": "1", "limit": "5"})
    assert [v["id"] for v in offset.json()["volumes"]] == ids[1:]
    resp = tenant.http.get(f"{tenant.base}/volumes", params={"sort": "bogus:asc"})
    assert resp.status_code == 400
    resp = tenant.http.get(f"{tenant.base}/volumes", params={"marker": str(uuid.uuid4())})
    assert resp.status_code == 404


def test_metadata_api(tenant):
    volume = tenant.create_volume(metadata={"a": "1"})
    base = f"{tenant.base}/volumes/{volume['id']}/metadata"
    assert tenant.http.post(base, json={"metadata": {"b": "2"}}).json() == {"metadata": {"a": "1", "b": "2"}}
    assert tenant.http.put(base, json={"metadata": {"c": "3"}}).json() == {"metadata": {"c": "3"}}
    assert tenant.http.get(f"{base}/c").json() == {"meta": {"c": "3"}}
    assert tenant.http.put(f"{base}/c", json={"meta": {"c": "4"}}).json() == {"meta": {"c": "4"}}
    resp = tenant.http.put(f"{base}/c", json={"meta": {"d": "4"}})
    assert resp.status_code == 400 and resp.json()["badRequest"]["message"] == "Request body and URI mismatch"
    assert tenant.http.delete(f"{base}/c").status_code == 200
    resp = tenant.http.get(f"{base}/c")
    assert resp.status_code == 404 and resp.json()["itemNotFound"]["message"] == "Metadata item was not found"
    assert tenant.http.post(base, json={"metadata": {"k": 5}}).status_code == 400


def test_actions(tenant):
    volume = tenant.create_volume()
    action = f"{tenant.base}/volumes/{volume['id']}/action"
    assert tenant.http.post(action, json={"os-set_bootable": {"bootable": True}}).status_code == 200
    assert tenant.wait_volume(volume["id"], "available")["bootable"] == "true"
    assert tenant.http.post(action, json={"os-update_readonly_flag": {"readonly": True}}).status_code == 202
    assert tenant.wait_volume(volume["id"], "available")["metadata"]["readonly"] == "True"
    assert tenant.http.post(action, json={"os-set_bootable": {"bootable": "maybe"}}).status_code == 400
    resp = tenant.http.post(action, json={"os-frobnicate": {}})
    assert resp.status_code == 400 and resp.json()["badRequest"]["message"] == "There is no such action: os-frobnicate"
    # extend: bigger only
    for bad in (1, 0, "abc", None):
        assert tenant.http.post(action, json={"os-extend": {"new_size": bad}}).status_code == 400
    assert tenant.http.post(action, json={"os-extend": {"new_size": 2}}).status_code == 202
    assert tenant.wait_volume(volume["id"], "available")["size"] == 2
    # reset_status is admin's
    resp = tenant.http.post(action, json={"os-reset_status": {"status": "error"}})
    assert resp.status_code == 403 and "forbidden" in resp.json()


def test_attach_state_machine_and_delete_in_use(tenant):
    volume = tenant.create_volume()
    action = f"{tenant.base}/volumes/{volume['id']}/action"
    server = str(uuid.uuid4())
    assert tenant.http.post(action, json={"os-reserve": {}}).status_code == 202
    assert tenant.wait_volume(volume["id"], "attaching")
    resp = tenant.http.post(action, json={"os-reserve": {}})
    assert resp.status_code == 400 and resp.json()["badRequest"]["message"].startswith("Invalid volume:")
    assert tenant.http.post(action, json={"os-unreserve": {}}).status_code == 202
    assert tenant.http.post(action, json={"os-reserve": {}}).status_code == 202
    assert tenant.http.post(action, json={"os-attach": {"instance_uuid": server, "mountpoint": "/dev/vdb"}}
                            ).status_code == 202
    shown = tenant.wait_volume(volume["id"], "in-use")
    (att,) = shown["attachments"]
    assert att["server_id"] == server and att["device"] == "/dev/vdb" and att["volume_id"] == volume["id"]
    resp = tenant.http.delete(f"{tenant.base}/volumes/{volume['id']}")
    assert resp.status_code == 400 and resp.json()["badRequest"]["message"].startswith("Invalid volume:")
    assert tenant.http.post(action, json={"os-begin_detaching": {}}).status_code == 202
    tenant.wait_volume(volume["id"], "detaching")
    assert tenant.http.post(action, json={"os-roll_detaching": {}}).status_code == 202
    tenant.wait_volume(volume["id"], "in-use")
    assert tenant.http.post(action, json={"os-detach": {"attachment_id": att["attachment_id"]}}).status_code == 202
    assert tenant.wait_volume(volume["id"], "available")["attachments"] == []
    assert tenant.http.delete(f"{tenant.base}/volumes/{volume['id']}").status_code == 202
    tenant.wait_volume(volume["id"], "gone")


def test_snapshots_wire_and_negatives(tenant):
    volume = tenant.create_volume()
    resp = tenant.http.post(f"{tenant.base}/snapshots", json={"snapshot": {"volume_id": str(uuid.uuid4())}})
    assert resp.status_code == 404
    resp = tenant.http.post(f"{tenant.base}/snapshots", json={"snapshot": {"name": "x"}})
    assert resp.status_code == 400
    resp = tenant.http.post(f"{tenant.base}/snapshots", json={"snapshot": {"volume_id": volume["id"], "name": "s",
                                                                           "metadata": {"m": "1"}}})
    assert resp.status_code == 202
    snap = resp.json()["snapshot"]
    assert set(snap) == {"id", "name", "description", "status", "size", "volume_id", "metadata", "created_at",
                         "updated_at"}
    shown = tenant.wait_snapshot(snap["id"], "available")
    assert shown["os-extended-snapshot-attributes:project_id"] == tenant.project_id
    assert shown["os-extended-snapshot-attributes:progress"] == "100%"
    # a volume with snapshots is not deleted without cascade
    resp = tenant.http.delete(f"{tenant.base}/volumes/{volume['id']}")
    assert resp.status_code == 400
    meta = f"{tenant.base}/snapshots/{snap['id']}/metadata"
    assert tenant.http.put(f"{meta}/m", json={"meta": {"m": "2"}}).json() == {"meta": {"m": "2"}}
    assert tenant.http.get(meta).json() == {"metadata": {"m": "2"}}
    # cascade takes the snapshots along
    assert tenant.http.delete(f"{tenant.base}/volumes/{volume['id']}", params={"cascade": "true"}).status_code == 202
    tenant.wait_snapshot(snap["id"], "gone")
    tenant.wait_volume(volume["id"], "gone")


def test_types_extensions_zones_limits(tenant, admin, admin_project):
    types = tenant.http.get(f"{tenant.base}/types").json()["volume_types"]
    assert "__DEFAULT__" in [t["name"] for t in types]
    name = unique("type")
    base = f"/volume/v3/{admin_project}/types"
    resp = tenant.http.post(f"{tenant.base}/types", json={"volume_type": {"name": name}})
    assert resp.status_code == 403
    created = admin.post(base, json={"volume_type": {"name": name, "extra_specs": {"a": "b"}}})
    assert created.status_code == 200, created.text
    type_id = created.json()["volume_type"]["id"]
    assert admin.post(base, json={"volume_type": {"name": name}}).status_code == 409
    assert admin.get(f"{base}/{type_id}/extra_specs").json() == {"extra_specs": {"a": "b"}}
    assert admin.put(f"{base}/{type_id}/extra_specs/a", json={"a": "c"}).json() == {"a": "c"}
    volume = tenant.create_volume(volume_type=name)
    assert volume["volume_type"] == name
    resp = admin.delete(f"{base}/{type_id}")
    assert resp.status_code == 400  # still in use
    tenant.http.delete(f"{tenant.base}/volumes/{volume['id']}")
    tenant.wait_volume(volume["id"], "gone")
    assert admin.delete(f"{base}/{type_id}").status_code == 202
    assert admin.get(f"{base}/{type_id}").status_code == 404
    default = [t for t in types if t["name"] == "__DEFAULT__"][0]
    assert admin.delete(f"{base}/{default['id']}").status_code == 400
    assert tenant.http.get(f"{tenant.base}/os-availability-zone").json() == {
        "availabilityZoneInfo": [{"zoneName": "nova", "zoneState": {"available": True}}]}
    exts = tenant.http.get(f"{tenant.base}/extensions").json()["extensions"]
    assert {"alias", "name", "description", "links", "updated"} <= set(exts[0])
    absolute = tenant.http.get(f"{tenant.base}/limits").json()["limits"]["absolute"]
    assert absolute["maxTotalVolumes"] == 10 and absolute["totalBackupsUsed"] == 0


def test_quota_over_limit_is_413_and_counts_back(new_tenant, admin, admin_project):
    t = new_tenant()
    quota_url = f"/volume/v3/{admin_project}/os-quota-sets/{t.project_id}"
    resp = admin.put(quota_url, json={"quota_set": {"volumes": 2, "gigabytes": 3}})
    assert resp.status_code == 200 and resp.json()["quota_set"]["volumes"] == 2
    resp = t.http.post(f"{t.base}/volumes", json={"volume": {"size": 4}})
    assert resp.status_code == 413
    assert resp.json()["overLimit"]["message"].startswith("VolumeSizeExceedsAvailableQuota")
    first = t.create_volume()
    t.create_volume()
    resp = t.http.post(f"{t.base}/volumes", json={"volume": {"size": 1}})
    assert resp.status_code == 413
    assert resp.json() == {"overLimit": {"code": 413, "message":
                           "VolumeLimitExceeded: Maximum number of volumes allowed (2) exceeded for quota 'volumes'."}}
    usage = t.http.get(f"{t.base}/os-quota-sets/{t.project_id}", params={"usage": "true"}).json()["quota_set"]
    assert usage["volumes"] == {"limit": 2, "in_use": 2, "reserved": 0}
    assert usage["gigabytes"]["in_use"] == 2
    assert t.http.put(f"{t.base}/os-quota-sets/{t.project_id}", json={"quota_set": {"volumes": 9}}).status_code == 403
    t.http.delete(f"{t.base}/volumes/{first['id']}")
    t.wait_volume(first["id"], "gone")
    t.create_volume()  # the deleted volume's quota came back
    defaults = admin.get(f"{quota_url}/defaults").json()["quota_set"]
    assert defaults["volumes"] == 10


def test_concurrent_creates_never_exceed_quota(new_tenant, admin, admin_project):
    t = new_tenant()
    admin.put(f"/volume/v3/{admin_project}/os-quota-sets/{t.project_id}", json={"quota_set": {"volumes": 5}})

    def create(i):
        with t.cloud.http(t.token) as http:
            return http.post(f"{t.base}/volumes", json={"volume": {"size": 1, "name": f"c{i}"}}).status_code

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        codes = list(pool.map(create, range(10)))
    assert sorted(codes) == [202] * 5 + [413] * 5
    vols = t.http.get(f"{t.base}/volumes").json()["volumes"]
    assert len(vols) == 5
    usage = t.http.get(f"{t.base}/os-quota-sets/{t.project_id}", params={"usage": "true"}).json()["quota_set"]
    assert usage["volumes"]["in_use"] == 5


def test_upload_to_image_and_back(tenant):
    images = tenant.http.get("/image/v2/images", params={"name": "busybox"}).json().get("images", [])
    if not images:
        pytest.skip("the image service is not mounted")
    source = tenant.create_volume(imageRef=images[0]["id"])
    assert source["bootable"] == "true" and source["volume_image_metadata"]["image_id"] == images[0]["id"]
    name = unique("upload")
    resp = tenant.http.post(f"{tenant.base}/volumes/{source['id']}/action",
                            json={"os-volume_upload_image": {"image_name": name, "disk_format": "raw"}})
    assert resp.status_code == 202, resp.text
    body = resp.json()["os-volume_upload_image"]
    assert body["image_name"] == name and body["disk_format"] == "raw" and body["status"] == "uploading"
    deadline = time.monotonic() + 60
    while (image := tenant.http.get(f"/image/v2/images/{body['image_id']}").json())["status"] != "active":
        assert image["status"] in ("queued", "saving") and time.monotonic() < deadline, image
        time.sleep(0.1)
    assert image["name"] == name and 0 < image["size"] <= 1 << 30 and image["size"] % (1 << 20) == 0
    tenant.wait_volume(source["id"], "available")
    again = tenant.create_volume(imageRef=body["image_id"])
    assert again["size"] == 1 and again["bootable"] == "true"
    resp = tenant.http.post(f"{tenant.base}/volumes/{source['id']}/action",
                            json={"os-volume_upload_image": {"image_name": name, "disk_format": "bogus"}})
    assert resp.status_code == 400
    resp = tenant.http.post(f"{tenant.base}/volumes", json={"volume": {"size": 1, "imageRef": str(uuid.uuid4())}})
    assert resp.status_code == 400 and "Invalid image identifier" in resp.json()["badRequest"]["message"]
    assert tenant.http.delete(f"/image/v2/images/{body['image_id']}").status_code == 204


def test_snapshot_lists_and_quota(new_tenant, admin, admin_project):
    t = new_tenant()
    admin.put(f"/volume/v3/{admin_project}/os-quota-sets/{t.project_id}", json={"quota_set": {"snapshots": 3}})
    volume = t.create_volume()
    made = []
    for i in range(3):
        resp = t.http.post(f"{t.base}/snapshots", json={"snapshot": {"volume_id": volume["id"], "name": f"s{i}"}})
        made.append(resp.json()["snapshot"]["id"])
    for ident in made:
        t.wait_snapshot(ident, "available")
    resp = t.http.post(f"{t.base}/snapshots", json={"snapshot": {"volume_id": volume["id"]}})
    assert resp.status_code == 413
    assert resp.json()["overLimit"]["message"] == "SnapshotLimitExceeded: Maximum number of snapshots allowed (3) exceeded"

    def ids(**params):
        resp = t.http.get(f"{t.base}/snapshots", params=params)
        assert resp.status_code == 200, resp.text
        return [s["id"] for s in resp.json()["snapshots"]]

    newest_first = ids()
    assert newest_first == ids(sort_key="created_at", sort_dir="desc") and sorted(newest_first) == sorted(made)
    assert ids(sort="id:asc") == sorted(made)
    assert ids(sort_key="display_name", sort_dir="asc") == made
    assert ids(limit=0) == [] and len(ids(limit=1)) == 1 and ids(limit=100000) == newest_first
    assert ids(marker=newest_first[1]) == newest_first[2:]
    assert ids(offset=2, limit=3) == newest_first[2:]
    assert ids(name="s1") == [made[1]] and ids(status="error") == []
    assert ids(volume_id=volume["id"]) == newest_first
    detail = t.http.get(f"{t.base}/snapshots/detail", params={"limit": 1}).json()
    assert detail["snapshots"][0]["os-extended-snapshot-attributes:project_id"] == t.project_id
    assert detail["snapshots_links"][0]["rel"] == "next"
