"""Glance v2 over raw HTTP: wire format, validation, exact status codes and error bodies."""

from __future__ import annotations

import hashlib
import os
import re
import uuid

from tests.image.conftest import OCTET, create, patch, unique, upload

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def glance_error(resp, status: int, *needles: str) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["code"] == status and body["title"] and body["message"], body
    for needle in needles:
        assert needle in body["message"], body
    return body


def test_versions_and_schemas(cloud, tenants):
    with cloud.http() as anon:
        root = anon.get("/image/")
        assert root.status_code == 300
        versions = root.json()["versions"]
        assert versions[0]["status"] == "CURRENT" and versions[0]["id"].startswith("v2.")
        assert versions[0]["links"][0]["href"] == cloud.url + "/image/v2/"
        assert {v["id"] for v in versions} >= {"v2.0", "v2.1"}
        assert anon.get("/image/versions").status_code == 200
        assert anon.get("/image/v2/schemas/image").status_code == 401
    member = tenants().member
    image = member.get("/schemas/image").json()
    assert image["name"] == "image" and image["additionalProperties"] == {"type": "string"}
    assert "raw" in image["properties"]["disk_format"]["enum"]
    assert image["properties"]["status"]["readOnly"] is True
    assert member.get("/schemas/images").json()["name"] == "images"
    assert member.get("/schemas/member").json()["name"] == "member"
    assert member.get("/schemas/members").json()["name"] == "members"
    glance_error(member.get("/schemas/nothing"), 404)


def test_create_renders_like_glance(tenants):
    tenant = tenants()
    image_id = str(uuid.uuid4())
    resp = tenant.member.post("/images", json={"id": image_id, "name": "wire", "disk_format": "qcow2",
                                               "container_format": "bare", "min_ram": 64, "tags": ["a", "a", "b"],
                                               "hw_arch": "x86_64"})
    assert resp.status_code == 201, resp.text
    assert resp.headers["location"] == f"/v2/images/{image_id}"
    body = resp.json()
    assert body["id"] == image_id and body["status"] == "queued" and body["visibility"] == "shared"
    assert body["owner"] == tenant.project_id and body["hw_arch"] == "x86_64" and sorted(body["tags"]) == ["a", "b"]
    for key in ("checksum", "size", "virtual_size", "os_hash_algo", "os_hash_value"):
        assert key in body and body[key] is None
    assert body["min_ram"] == 64 and body["min_disk"] == 0 and body["protected"] is False
    assert body["os_hidden"] is False and "locations" not in body
    assert body["self"] == f"/v2/images/{image_id}" and body["file"] == f"/v2/images/{image_id}/file"
    assert body["schema"] == "/v2/schemas/image"
    assert TIME.match(body["created_at"]) and TIME.match(body["updated_at"])
    glance_error(tenant.member.post("/images", json={"id": image_id}), 409, image_id)
    assert tenant.member.get(f"/images/{image_id}").json() == body


def test_create_negatives(tenants):
    member = tenants().member
    cases = [
        ({"disk_format": "wrong"}, 400, "disk_format"),
        ({"container_format": "wrong"}, 400, "container_format"),
        ({"visibility": "everyone"}, 400, "visibility"),
        ({"name": "x" * 256}, 400, "name"),
        ({"min_ram": -1}, 400, "min_ram"),
        ({"min_disk": "big"}, 400, "min_disk"),
        ({"protected": "yes"}, 400, "protected"),
        ({"id": "not-a-uuid"}, 400, "id"),
        ({"extra": 5}, 400, "extra"),
        ({"tags": "notalist"}, 400, "tags"),
        ({"tags": [{"a": 1}]}, 400, "tags"),
        ({"tags": ["x" * 256]}, 400, "tags"),
        ([1, 2], 400, "object"),
        ({"status": "active"}, 403, "read-only"),
        ({"size": 5}, 403, "read-only"),
        ({"checksum": "0" * 32}, 403, "read-only"),
        ({"os_glance_foo": "bar"}, 403, "reserved"),
        ({"locations": []}, 403, "reserved"),
        ({"visibility": "public"}, 403, ""),
        ({"owner": "someone-else"}, 403, ""),
    ]
    before = member.get("/images", params={"limit": 1000}).json()["images"]
    for body, status, needle in cases:
        glance_error(member.post("/images", json=body), status, needle)
    assert member.get("/images", params={"limit": 1000}).json()["images"] == before  # nothing half-created
    glance_error(member.post("/images", content=b"{not json", headers={"Content-Type": "application/json"}), 400)


def test_unknown_image_everywhere_is_404(tenants):
    member = tenants().member
    missing = str(uuid.uuid4())
    for method, path in (("GET", ""), ("DELETE", ""), ("GET", "/file"), ("PUT", "/tags/x"), ("DELETE", "/tags/x"),
                         ("GET", "/members"), ("POST", "/actions/deactivate")):
        resp = member.request(method, f"/images/{missing}{path}")
        glance_error(resp, 404)
    glance_error(patch(member, missing, [{"op": "replace", "path": "/name", "value": "x"}]), 404, missing)
    glance_error(upload(member, missing, b"data"), 404)
    glance_error(member.get("/images/"), 404)
    glance_error(member.delete("/images/"), 404)


def test_patch(tenants):
    member = tenants().member
    image = create(member, foo="1", tags=["t1"])
    ok = patch(member, image["id"], [{"op": "replace", "path": "/name", "value": "renamed"},
                                     {"op": "add", "path": "/bar", "value": "2"},
                                     {"op": "remove", "path": "/foo"},
                                     {"op": "replace", "path": "/tags", "value": ["t2", "t3"]},
                                     {"op": "replace", "path": "/min_disk", "value": 3}])
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["name"] == "renamed" and body["bar"] == "2" and "foo" not in body and body["min_disk"] == 3
    assert sorted(body["tags"]) == ["t2", "t3"]
    # Glance's v2.0 (draft 4) style, which Tempest uses
    v20 = patch(member, image["id"], [{"replace": "/name", "value": "draft4"}],
                media="application/openstack-images-v2.0-json-patch")
    assert v20.status_code == 200 and v20.json()["name"] == "draft4"
    glance_error(patch(member, image["id"], [{"add": "/bar", "value": "x"}],
                       media="application/openstack-images-v2.0-json-patch"), 409, "already present")
    # negatives: the image is unchanged after each
    before = member.get(f"/images/{image['id']}").json()
    bad = [
        ([{"op": "replace", "path": "/status", "value": "active"}], 403, "read-only"),
        ([{"op": "replace", "path": "/checksum", "value": "x"}], 403, "read-only"),
        ([{"op": "add", "path": "/size", "value": 1}], 403, "read-only"),
        ([{"op": "add", "path": "/os_glance_x", "value": "1"}], 403, "reserved"),
        ([{"op": "remove", "path": "/name"}], 403, "may not be removed"),
        ([{"op": "replace", "path": "/nothere", "value": "1"}], 409, "does not exist"),
        ([{"op": "remove", "path": "/nothere"}], 409, "does not exist"),
        ([{"op": "replace", "path": "/name", "value": "ok"}, {"op": "replace", "path": "/min_ram", "value": "x"}],
         400, "min_ram"),
        ([{"op": "replace", "path": "/disk_format", "value": "floppy"}], 400, "disk_format"),
        ([{"op": "replace", "path": "/visibility", "value": "public"}], 403, ""),
        ([{"op": "replace", "path": "/a/b", "value": "1"}], 400, "Nested"),
        ([{"op": "move", "path": "/name", "value": "1"}], 400, "move"),
        ([{"op": "replace", "path": "name", "value": "1"}], 400, "start with"),
        ([{"op": "replace", "path": "/name"}], 400, "value"),
        ({"op": "replace"}, 400, "array"),
        ([{"op": "add", "path": "/num", "value": 7}], 400, "num"),
        ([{"op": "replace", "path": "/tags", "value": [["nested"]]}], 400, "tags"),
        ([{"op": "replace", "path": "/protected", "value": None}], 400, "protected"),
        (["replace"], 400, "objects"),
    ]
    for ops, status, needle in bad:
        glance_error(patch(member, image["id"], ops), status, needle)
    assert member.get(f"/images/{image['id']}").json() == before
    resp = member.patch(f"/images/{image['id']}", json=[{"op": "replace", "path": "/name", "value": "x"}])
    glance_error(resp, 415)


def test_upload_download_and_state_rules(tenants, glance_admin):
    member = tenants().member
    content = os.urandom(300_000)
    image = create(member)
    empty = member.get(f"/images/{image['id']}/file")
    assert empty.status_code == 204 and empty.content == b""
    glance_error(member.put(f"/images/{image['id']}/file", content=b"x",
                            headers={"Content-Type": "text/plain"}), 415)
    assert member.get(f"/images/{image['id']}").json()["status"] == "queued"
    assert upload(member, image["id"], content).status_code == 204
    shown = member.get(f"/images/{image['id']}").json()
    assert shown["status"] == "active" and shown["size"] == len(content) == shown["virtual_size"]
    assert shown["checksum"] == hashlib.md5(content).hexdigest()
    assert shown["os_hash_algo"] == "sha512" and shown["os_hash_value"] == hashlib.sha512(content).hexdigest()
    glance_error(upload(member, image["id"], b"again"), 409, "active")
    got = member.get(f"/images/{image['id']}/file")
    assert got.status_code == 200 and got.content == content
    assert got.headers["content-md5"] == shown["checksum"]
    assert got.headers["content-type"] == "application/octet-stream"
    assert int(got.headers["content-length"]) == len(content)
    part = member.get(f"/images/{image['id']}/file", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == content[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(content)}"
    glance_error(member.get(f"/images/{image['id']}/file", headers={"Range": f"bytes={len(content)}-"}), 416)
    # formats must be set before data
    bare = create(member, disk_format=None, container_format=None)
    glance_error(upload(member, bare["id"], b"abc"), 400, "disk_format")
    assert member.get(f"/images/{bare['id']}").json()["status"] == "queued"
    # formats are fixed once the image has data
    glance_error(patch(member, image["id"], [{"op": "replace", "path": "/disk_format", "value": "qcow2"}]),
                 403, "queued")
    # deactivate: the owner (and admin) may; data is then forbidden to all but admins
    assert member.post(f"/images/{image['id']}/actions/deactivate").status_code == 204
    assert member.get(f"/images/{image['id']}").json()["status"] == "deactivated"
    glance_error(member.get(f"/images/{image['id']}/file"), 403, "deactivated")
    assert glance_admin.get(f"/images/{image['id']}/file").content == content
    assert member.post(f"/images/{image['id']}/actions/reactivate").status_code == 204
    assert member.get(f"/images/{image['id']}/file").content == content
    glance_error(member.post(f"/images/{bare['id']}/actions/reactivate"), 403, "queued")


def test_protected_and_delete(tenants):
    member = tenants().member
    image = create(member, protected=True)
    glance_error(member.delete(f"/images/{image['id']}"), 403, "protected")
    assert member.get(f"/images/{image['id']}").status_code == 200
    assert patch(member, image["id"], [{"op": "replace", "path": "/protected", "value": False}]).status_code == 200
    assert member.delete(f"/images/{image['id']}").status_code == 204
    glance_error(member.get(f"/images/{image['id']}"), 404, image["id"])
    glance_error(member.delete(f"/images/{image['id']}"), 404)


def test_tags(tenants):
    member = tenants().member
    image = create(member)
    assert member.put(f"/images/{image['id']}/tags/blue").status_code == 204
    assert member.put(f"/images/{image['id']}/tags/blue").status_code == 204  # idempotent
    assert member.put(f"/images/{image['id']}/tags/green").status_code == 204
    assert sorted(member.get(f"/images/{image['id']}").json()["tags"]) == ["blue", "green"]
    assert member.delete(f"/images/{image['id']}/tags/blue").status_code == 204
    glance_error(member.delete(f"/images/{image['id']}/tags/blue"), 404, "blue")
    glance_error(member.put(f"/images/{image['id']}/tags/{'x' * 256}"), 400)
    assert member.get(f"/images/{image['id']}").json()["tags"] == ["green"]


def test_visibility_and_policy(tenants, glance_admin):
    a, b = tenants(), tenants()
    private = create(a.member, visibility="private")
    community = create(a.member, visibility="community")
    public = create(glance_admin, visibility="public")
    try:
        # another project: never sees a private image (404, not 403), sees public and community ones
        for method in ("GET", "DELETE"):
            glance_error(b.member.request(method, f"/images/{private['id']}"), 404)
        glance_error(patch(b.member, private["id"], [{"op": "replace", "path": "/name", "value": "x"}]), 404)
        listed = {i["id"] for i in b.member.get("/images", params={"limit": 1000}).json()["images"]}
        assert private["id"] not in listed and public["id"] in listed and community["id"] not in listed
        community_list = b.member.get("/images", params={"visibility": "community", "limit": 1000}).json()
        assert community["id"] in {i["id"] for i in community_list["images"]}
        assert b.member.get(f"/images/{community['id']}").status_code == 200
        # visible but not theirs: 403 to change or delete
        glance_error(patch(b.member, public["id"], [{"op": "replace", "path": "/name", "value": "x"}]), 403)
        glance_error(b.member.delete(f"/images/{public['id']}"), 403)
        glance_error(b.member.put(f"/images/{public['id']}/tags/x"), 403)
        # a reader of the owning project reads but does not write
        assert a.reader.get(f"/images/{private['id']}").status_code == 200
        glance_error(patch(a.reader, private["id"], [{"op": "replace", "path": "/name", "value": "x"}]), 403)
        glance_error(a.reader.delete(f"/images/{private['id']}"), 403)
        glance_error(a.reader.post("/images", json={"name": "r"}), 403)
        # only an admin makes an image public
        glance_error(patch(a.member, private["id"], [{"op": "replace", "path": "/visibility", "value": "public"}]),
                     403)
        assert a.member.get(f"/images/{private['id']}").json()["visibility"] == "private"
    finally:
        glance_admin.delete(f"/images/{public['id']}")


def test_members(tenants):
    a, b = tenants(), tenants()
    image = create(a.member, visibility="private")
    glance_error(a.member.post(f"/images/{image['id']}/members", json={"member": b.project_id}), 403, "shared")
    glance_error(a.member.get(f"/images/{image['id']}/members"), 403, "shared")
    assert patch(a.member, image["id"], [{"op": "replace", "path": "/visibility", "value": "shared"}]).status_code == 200
    glance_error(b.member.get(f"/images/{image['id']}"), 404)
    resp = a.member.post(f"/images/{image['id']}/members", json={"member": b.project_id})
    assert resp.status_code == 200, resp.text
    m = resp.json()
    assert m["status"] == "pending" and m["member_id"] == b.project_id and m["image_id"] == image["id"]
    assert m["schema"] == "/v2/schemas/member" and TIME.match(m["created_at"])
    glance_error(a.member.post(f"/images/{image['id']}/members", json={"member": b.project_id}), 409)
    glance_error(a.member.post(f"/images/{image['id']}/members", json={}), 400)
    # the member sees it, but it is listed only once accepted
    assert b.member.get(f"/images/{image['id']}").status_code == 200
    ids = lambda client, **p: {i["id"] for i in client.get("/images", params={"limit": 1000, **p}).json()["images"]}
    assert image["id"] not in ids(b.member)
    assert image["id"] in ids(b.member, member_status="pending")
    glance_error(a.member.put(f"/images/{image['id']}/members/{b.project_id}", json={"status": "accepted"}), 403)
    glance_error(b.member.put(f"/images/{image['id']}/members/{b.project_id}", json={"status": "maybe"}), 400)
    accepted = b.member.put(f"/images/{image['id']}/members/{b.project_id}", json={"status": "accepted"})
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert image["id"] in ids(b.member)
    assert [x["member_id"] for x in b.member.get(f"/images/{image['id']}/members").json()["members"]] == \
        [b.project_id]
    assert b.member.get(f"/images/{image['id']}/members/{b.project_id}").json()["status"] == "accepted"
    # the member may not remove itself or modify the image; the owner removes it
    glance_error(b.member.delete(f"/images/{image['id']}/members/{b.project_id}"), 403)
    glance_error(patch(b.member, image["id"], [{"op": "replace", "path": "/name", "value": "x"}]), 403)
    assert a.member.delete(f"/images/{image['id']}/members/{b.project_id}").status_code == 204
    glance_error(b.member.get(f"/images/{image['id']}"), 404)
    glance_error(a.member.get(f"/images/{image['id']}/members/{b.project_id}"), 404)


def test_list_filters_sort_and_pages(tenants):
    member = tenants().member
    tag = unique("tag")
    made = []
    for i, size in enumerate((100, 300, 200, 500, 400)):
        image = create(member, name=f"page-{i}", tags=[tag], visibility="private", flavour=f"f{i % 2}")
        assert upload(member, image["id"], os.urandom(size)).status_code == 204
        made.append((image["id"], size))
    queued = create(member, name="page-queued", tags=[tag], disk_format="qcow2")
    hidden = create(member, name="page-hidden", tags=[tag], os_hidden=True)

    def listed(**params):
        resp = member.get("/images", params={"tag": tag, **params})
        assert resp.status_code == 200, resp.text
        return resp.json()

    everything = listed()
    assert {i["id"] for i in everything["images"]} == {m[0] for m in made} | {queued["id"]}
    assert everything["schema"] == "/v2/schemas/images" and everything["first"].startswith("/v2/images?")
    assert hidden["id"] in {i["id"] for i in listed(os_hidden="true")["images"]}
    assert [i["size"] for i in listed(status="active", sort="size:asc")["images"]] == [100, 200, 300, 400, 500]
    assert [i["size"] for i in listed(status="active", sort_key="size", sort_dir="desc")["images"]] == \
        [500, 400, 300, 200, 100]
    assert {i["size"] for i in listed(size_min=200, size_max=400)["images"]} == {200, 300, 400}
    assert [i["id"] for i in listed(size=300)["images"]] == [made[1][0]]
    assert [i["id"] for i in listed(disk_format="qcow2")["images"]] == [queued["id"]]
    assert [i["id"] for i in listed(name="page-3")["images"]] == [made[3][0]]
    assert {i["id"] for i in listed(flavour="f1")["images"]} == {made[1][0], made[3][0]}
    assert {i["id"] for i in listed(name='in:"page-0","page-4"')["images"]} == {made[0][0], made[4][0]}
    # pages: follow the next links with limit=2 in name order
    seen, url = [], f"/images?tag={tag}&sort=name:asc&limit=2"
    while url:
        page = member.get(url.removeprefix("/v2")).json()
        assert len(page["images"]) <= 2
        seen += [i["name"] for i in page["images"]]
        url = page.get("next")
    assert seen == sorted(["page-0", "page-1", "page-2", "page-3", "page-4", "page-queued"])
    for params, needle in (({"limit": "x"}, "limit"), ({"limit": -1}, "limit"), ({"marker": str(uuid.uuid4())},
                           "marker"), ({"sort_key": "nope"}, "sort key"), ({"sort": "size:sideways"}, "direction"),
                           ({"sort": "size", "sort_key": "name"}, "combined"), ({"visibility": "x"}, "visibility"),
                           ({"status": "x"}, "status"), ({"protected": "maybe"}, "protected"),
                           ({"size_min": "big"}, "size_min"), ({"member_status": "x"}, "status")):
        glance_error(member.get("/images", params=params), 400, needle)


def test_upload_content_length_and_media_type(tenants):
    member = tenants().member
    image = create(member)
    resp = member.put(f"/images/{image['id']}/file", content=b"abc")  # httpx sends no content type
    glance_error(resp, 415)
    assert upload(member, image["id"], b"").status_code == 204  # an empty image is still an image
    shown = member.get(f"/images/{image['id']}").json()
    assert shown["status"] == "active" and shown["size"] == 0
    assert shown["checksum"] == hashlib.md5(b"").hexdigest()
    got = member.get(f"/images/{image['id']}/file", headers=OCTET)
    assert got.status_code == 200 and got.content == b""
