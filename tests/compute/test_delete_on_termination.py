"""Boot from volume with ``delete_on_termination``: deleting the server deletes the volume, and only then."""

from __future__ import annotations

from tests.compute.conftest import unique, wait_status
from tests.compute.test_images_volumes import _volume, _wait


def _boot_from(tenant, volume_id: str, delete_on_termination) -> str:
    bdm = {"boot_index": 0, "uuid": volume_id, "source_type": "volume", "destination_type": "volume"}
    if delete_on_termination is not None:
        bdm["delete_on_termination"] = delete_on_termination
    resp = tenant.member.post("/servers", json={"server": {
        "name": unique("dot"), "flavorRef": "6", "imageRef": "", "block_device_mapping_v2": [bdm]}})
    assert resp.status_code == 202, resp.text
    sid = resp.json()["server"]["id"]
    wait_status(tenant.member, sid, "ACTIVE")
    return sid


def test_delete_on_termination_deletes_the_root_volume(sim, tenant, image_ids):
    cinder, doomed = _volume(sim, tenant, imageRef=image_ids[0])
    _, kept = _volume(sim, tenant, imageRef=image_ids[0])
    try:
        gone, stays = _boot_from(tenant, doomed, True), _boot_from(tenant, kept, None)
        volumes = "/os-extended-volumes:volumes_attached"
        shown = tenant.member.get(f"/servers/{gone}", headers={"X-OpenStack-Nova-API-Version": "2.3"}).json()
        assert shown["server"][volumes[1:]] == [{"id": doomed, "delete_on_termination": True}]
        for sid in (gone, stays):
            assert tenant.member.delete(f"/servers/{sid}").status_code == 204
        for sid in (gone, stays):
            wait_status(tenant.member, sid, "DELETED")
        url = f"/volume/v3/{tenant.project_id}/volumes/"
        _wait(lambda: cinder.get(url + doomed).status_code, lambda code: code == 404)
        assert cinder.get(url + doomed).json()["itemNotFound"]["code"] == 404
        _wait(lambda: cinder.get(url + kept).json()["volume"]["status"], lambda s: s == "available")
    finally:
        for volume_id in (doomed, kept):
            cinder.delete(f"/volume/v3/{tenant.project_id}/volumes/{volume_id}")
        cinder.close()
