"""What compute asks of the other services: snapshots into Glance (createImage, the /images proxy),
Cinder volumes attached through os-volume_attachments, and booting from a volume."""

from __future__ import annotations

import time

import pytest

from tests.compute.conftest import boot, unique, wait_status


def _wait(fetch, predicate, timeout: float = 20):
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = fetch()
        if predicate(value):
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out; last: {value}")


@pytest.fixture(scope="module")
def server(tenant, image_ids):
    return boot(tenant.member, image_ids[0], name=unique("snap"))


def test_create_image_snapshots_into_glance(sim, tenant, server):
    sid = server["id"]
    resp = tenant.member.post(f"/servers/{sid}/action", json={"createImage": {"name": "snap ☃",
                                                                             "metadata": {"image_type": "test"}}})
    assert resp.status_code == 202 and resp.content == b""
    image_id = resp.headers["location"].rsplit("/", 1)[-1]
    image = _wait(lambda: tenant.member.get(f"/images/{image_id}").json()["image"],
                  lambda i: i["status"] == "ACTIVE")
    assert image["name"] == "snap ☃" and image["metadata"]["image_type"] == "test"
    assert image["metadata"]["instance_uuid"] == sid and image["server"]["id"] == sid
    wait_status(tenant.member, sid, "ACTIVE")
    # the bytes went through the image service: Glance shows a real checksum and size
    token = tenant.users["member"][3]
    with sim.http(token) as glance:
        shown = glance.get(f"/image/v2/images/{image_id}").json()
        assert shown["status"] == "active" and shown["size"] > 0 and len(shown["checksum"]) == 32
    assert image_id in {i["id"] for i in tenant.member.get("/images").json()["images"]}
    assert tenant.member.post(f"/servers/{sid}/action", json={"createImage": {"name": ""}}).status_code == 400
    assert tenant.member.delete(f"/images/{image_id}").status_code == 204
    assert tenant.member.get(f"/images/{image_id}").status_code == 404
    # the proxy is gone from 2.36 on
    assert tenant.member.get("/images", headers={"X-OpenStack-Nova-API-Version": "2.35"}).status_code == 200
    assert tenant.member.get("/images", headers={"X-OpenStack-Nova-API-Version": "2.36"}).status_code == 404


def _volume(sim, tenant, size: int = 1, **extra) -> tuple[object, str]:
    token = tenant.users["member"][3]
    cinder = sim.http(token)
    resp = cinder.post(f"/volume/v3/{tenant.project_id}/volumes", json={"volume": {"size": size, **extra}})
    assert resp.status_code == 202, resp.text
    volume_id = resp.json()["volume"]["id"]
    _wait(lambda: cinder.get(f"/volume/v3/{tenant.project_id}/volumes/{volume_id}").json()["volume"]["status"],
          lambda s: s == "available")
    return cinder, volume_id


def test_attach_and_detach_a_volume(sim, tenant, server):
    cinder, volume_id = _volume(sim, tenant)
    sid, url = server["id"], f"/volume/v3/{tenant.project_id}/volumes/{volume_id}"
    resp = tenant.member.post(f"/servers/{sid}/os-volume_attachments", json={"volumeAttachment": {
        "volumeId": volume_id}})
    assert resp.status_code == 200, resp.text
    attachment = resp.json()["volumeAttachment"]
    assert attachment == {"id": volume_id, "volumeId": volume_id, "serverId": sid, "device": "/dev/vdb"}
    volume = _wait(lambda: cinder.get(url).json()["volume"], lambda v: v["status"] == "in-use")
    assert volume["attachments"][0]["server_id"] == sid
    listed = tenant.member.get(f"/servers/{sid}/os-volume_attachments").json()["volumeAttachments"]
    assert [a["volumeId"] for a in listed] == [volume_id]
    assert tenant.member.get(f"/servers/{sid}").json()["server"]["os-extended-volumes:volumes_attached"] == \
        [{"id": volume_id}]
    # attaching it again, or a volume that does not exist
    again = tenant.member.post(f"/servers/{sid}/os-volume_attachments", json={"volumeAttachment": {
        "volumeId": volume_id}})
    assert again.status_code == 400
    missing = tenant.member.post(f"/servers/{sid}/os-volume_attachments", json={"volumeAttachment": {
        "volumeId": "9a8b7c6d-1111-2222-3333-444455556666"}})
    assert missing.status_code == 404
    # the attachment survives stop/start
    tenant.member.post(f"/servers/{sid}/action", json={"os-stop": None})
    wait_status(tenant.member, sid, "SHUTOFF")
    tenant.member.post(f"/servers/{sid}/action", json={"os-start": None})
    wait_status(tenant.member, sid, "ACTIVE")
    assert tenant.member.get(f"/servers/{sid}/os-volume_attachments/{volume_id}").json()["volumeAttachment"][
        "device"] == "/dev/vdb"
    assert tenant.member.delete(f"/servers/{sid}/os-volume_attachments/{volume_id}").status_code == 202
    _wait(lambda: cinder.get(url).json()["volume"]["status"], lambda s: s == "available")
    assert tenant.member.get(f"/servers/{sid}/os-volume_attachments").json() == {"volumeAttachments": []}
    assert tenant.member.delete(f"/servers/{sid}/os-volume_attachments/{volume_id}").status_code == 404
    cinder.delete(url)
    cinder.close()


def test_boot_from_volume_and_delete_releases_it(sim, tenant, image_ids):
    cinder, volume_id = _volume(sim, tenant, imageRef=image_ids[0])
    url = f"/volume/v3/{tenant.project_id}/volumes/{volume_id}"
    resp = tenant.member.post("/servers", json={"server": {
        "name": unique("bfv"), "flavorRef": "6", "imageRef": "",
        "block_device_mapping_v2": [{"boot_index": 0, "uuid": volume_id, "source_type": "volume",
                                     "destination_type": "volume"}]}})
    assert resp.status_code == 202, resp.text
    sid = resp.json()["server"]["id"]
    shown = wait_status(tenant.member, sid, "ACTIVE")
    assert shown["image"] == "" and shown["os-extended-volumes:volumes_attached"] == [{"id": volume_id}]
    assert cinder.get(url).json()["volume"]["status"] == "in-use"
    # the root volume stays with the server
    assert tenant.member.delete(f"/servers/{sid}/os-volume_attachments/{volume_id}").status_code == 400
    assert tenant.member.delete(f"/servers/{sid}").status_code == 204
    wait_status(tenant.member, sid, "DELETED")
    _wait(lambda: cinder.get(url).json()["volume"]["status"], lambda s: s == "available")
    cinder.delete(url)
    cinder.close()


def test_host_views_for_admin(nova_admin, tenant):
    hypervisors = nova_admin.get("/os-hypervisors/detail").json()["hypervisors"]
    assert len(hypervisors) == 1 and hypervisors[0]["hypervisor_type"] == "simulated"
    assert hypervisors[0]["state"] == "up" and isinstance(hypervisors[0]["cpu_info"], str)
    stats = nova_admin.get("/os-hypervisors/statistics").json()["hypervisor_statistics"]
    assert stats["count"] == 1 and stats["vcpus"] >= 1
    assert nova_admin.get("/os-hypervisors/1", headers={"X-OpenStack-Nova-API-Version": "2.28"}) \
        .json()["hypervisor"]["cpu_info"]["topology"]
    assert nova_admin.get("/os-hypervisors/2").status_code == 404
    assert tenant.member.get("/os-hypervisors").status_code == 403
    services = {s["binary"] for s in nova_admin.get("/os-services").json()["services"]}
    assert services == {"nova-compute", "nova-scheduler", "nova-conductor"}
    zones = tenant.member.get("/os-availability-zone").json()["availabilityZoneInfo"]
    assert zones == [{"zoneName": "nova", "zoneState": {"available": True}, "hosts": None}]
    assert tenant.member.get("/os-availability-zone/detail").status_code == 403
    detail = nova_admin.get("/os-availability-zone/detail").json()["availabilityZoneInfo"]
    assert {z["zoneName"] for z in detail} == {"nova", "internal"}


def test_boot_from_an_image_made_into_a_volume(sim, tenant, image_ids):
    resp = tenant.member.post("/servers", json={"server": {
        "name": unique("bfi"), "flavorRef": "6", "imageRef": "",
        "block_device_mapping_v2": [{"boot_index": 0, "uuid": image_ids[0], "source_type": "image",
                                     "destination_type": "volume", "volume_size": 1}]}})
    assert resp.status_code == 202, resp.text
    sid = resp.json()["server"]["id"]
    shown = wait_status(tenant.member, sid, "ACTIVE", timeout=30)
    [attached] = shown["os-extended-volumes:volumes_attached"]
    token = tenant.users["member"][3]
    with sim.http(token) as cinder:
        volume = cinder.get(f"/volume/v3/{tenant.project_id}/volumes/{attached['id']}").json()["volume"]
        assert volume["status"] == "in-use" and volume["bootable"] == "true"
        assert tenant.member.delete(f"/servers/{sid}").status_code == 204
        wait_status(tenant.member, sid, "DELETED")
        url = f"/volume/v3/{tenant.project_id}/volumes/{attached['id']}"
        _wait(lambda: cinder.get(url).json()["volume"]["status"], lambda s: s == "available")
        cinder.delete(url)
