"""The stock ``openstack`` CLI and openstacksdk against Kumo's block storage."""

from __future__ import annotations

import pytest

from tests.volume.conftest import unique


def test_cli_volume_lifecycle(tenant):
    name = unique("clivol")
    created = tenant.cli("volume", "create", "--size", "1", "--property", "a=b", name, "-f", "json")
    assert created["name"] == name and created["size"] == 1
    tenant.wait_volume(created["id"], "available")
    tenant.cli("volume", "set", "--property", "color=blue", "--bootable", "--size", "2", name)
    tenant.wait_volume(created["id"], "available")
    shown = tenant.cli("volume", "show", name, "-f", "json")
    listed = tenant.cli("volume", "list", "-f", "json")
    snap = tenant.cli("volume", "snapshot", "create", "--volume", name, unique("snap"), "-f", "json")
    assert shown["properties"] == {"a": "b", "color": "blue"}
    assert shown["bootable"] is True and shown["size"] == 2 and shown["status"] == "available"
    assert name in [v["Name"] for v in listed]
    tenant.wait_snapshot(snap["id"], "available")
    from_snap = tenant.cli("volume", "create", "--snapshot", snap["id"], unique("fromsnap"), "-f", "json")
    clone = tenant.cli("volume", "create", "--source", name, "--size", "3", unique("clone"), "-f", "json")
    from_snap = tenant.wait_volume(from_snap["id"], "available")
    clone = tenant.wait_volume(clone["id"], "available")
    assert from_snap["snapshot_id"] == snap["id"] and from_snap["size"] == 2
    assert clone["source_volid"] == created["id"] and clone["size"] == 3 and clone["bootable"] == "true"

    tenant.cli("volume", "snapshot", "delete", snap["id"])
    tenant.wait_snapshot(snap["id"], "gone")
    tenant.cli("volume", "delete", name, from_snap["id"], clone["id"])
    for ident in (created["id"], from_snap["id"], clone["id"]):
        tenant.wait_volume(ident, "gone")


def test_cli_volume_from_image_is_bootable(tenant):
    images = tenant.http.get("/image/v2/images", params={"name": "busybox"}).json().get("images", [])
    if not images:
        pytest.skip("no busybox image registered (the image service is not mounted)")
    created = tenant.cli("volume", "create", "--image", images[0]["id"], "--size", "1", unique("imgvol"),
                         "-f", "json")
    volume = tenant.wait_volume(created["id"], "available")
    assert volume["bootable"] == "true"
    assert volume["volume_image_metadata"]["image_id"] == images[0]["id"]
    assert tenant.http.delete(f"{tenant.base}/volumes/{created['id']}").status_code == 202
    tenant.wait_volume(created["id"], "gone")


def test_cli_rejects_bad_size(tenant):
    proc = tenant.cli("volume", "create", "--size", "0", unique("bad"), check=False)
    assert proc.returncode != 0 and "400" in proc.stderr and "less than the minimum of 1" in proc.stderr


def test_sdk_lifecycle(tenant):
    conn = tenant.sdk()
    bs = conn.block_storage
    volume = bs.create_volume(size=1, name=unique("sdkvol"), metadata={"x": "1"})
    volume = bs.wait_for_status(volume, "available", interval=0.1, wait=30)
    assert volume.size == 1 and volume.metadata == {"x": "1"}
    bs.extend_volume(volume, 2)
    # fetched anew: wait_for_status returns at once when the object it is given already says "available"
    volume = bs.wait_for_status(bs.get_volume(volume.id), "available", interval=0.1, wait=30)
    assert bs.get_volume(volume.id).size == 2
    snap = bs.create_snapshot(volume_id=volume.id, name=unique("sdksnap"))
    snap = bs.wait_for_status(snap, "available", interval=0.1, wait=30)
    assert snap.volume_id == volume.id and snap.size == 2
    assert snap.id in [s.id for s in bs.snapshots(details=True)]
    bs.delete_snapshot(snap)
    bs.wait_for_delete(snap, interval=0.1, wait=30)
    bs.delete_volume(volume)
    bs.wait_for_delete(volume, interval=0.1, wait=30)
    assert bs.find_volume(volume.id, ignore_missing=True) is None
