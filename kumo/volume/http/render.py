"""Volumes, snapshots and types as Cinder v3 renders them."""

from __future__ import annotations

from kumo.api.routing import Call
from kumo.volume import volumes as volume_logic
from kumo.volume.http.common import isotime, links
from kumo.volume.models import Snapshot, Volume, VolumeType
from kumo.volume.policies import policy


def volume_summary(call: Call, volume: Volume) -> dict:
    return {"id": volume.id, "name": volume.name, "links": links(call, volume.project_id, "volumes", volume.id)}


def volume(call: Call, volume: Volume, type_names: dict[str, str] | None = None) -> dict:
    metadata = volume_logic.metadata(volume)
    if volume.read_only is not None:
        metadata["readonly"] = str(volume.read_only)
    type_name = (type_names or {}).get(volume.volume_type_id)
    if type_name is None:
        vtype = call.db.get(VolumeType, volume.volume_type_id)
        type_name = vtype.name if vtype else None
    body = {
        "id": volume.id, "name": volume.name, "description": volume.description, "status": volume.status,
        "size": volume.size, "availability_zone": volume.availability_zone,
        "created_at": isotime(volume.created_at), "updated_at": isotime(volume.updated_at),
        "attachments": [{"id": volume.id, "attachment_id": a.id, "volume_id": volume.id, "server_id": a.server_id,
                         "host_name": a.host_name, "device": a.device, "attached_at": isotime(a.attached_at)}
                        for a in volume.attachments],
        "links": links(call, volume.project_id, "volumes", volume.id),
        "bootable": "true" if volume.bootable else "false", "encrypted": False, "multiattach": volume.multiattach,
        "metadata": metadata, "volume_type": type_name, "snapshot_id": volume.snapshot_id,
        "source_volid": volume.source_volid, "user_id": volume.user_id, "replication_status": None,
        "consistencygroup_id": None, "migration_status": None,
        "os-vol-tenant-attr:tenant_id": volume.project_id,
    }
    if volume.image_metadata:
        body["volume_image_metadata"] = dict(volume.image_metadata)
    if policy.check(call.ctx, "volume:admin_action"):
        body["os-vol-host-attr:host"] = f"kumo@{call.cloud.volume_driver.name}#{call.cloud.volume_driver.name}"
        body["os-vol-mig-status-attr:migstat"] = None
        body["os-vol-mig-status-attr:name_id"] = None
    return body


def created_volume(call: Call, vol: Volume) -> dict:
    body = volume(call, vol)
    for key in [k for k in body if k.startswith("os-") or k == "volume_image_metadata"]:
        del body[key]
    return body


def snapshot(snap: Snapshot, detail: bool = True) -> dict:
    body = {"id": snap.id, "name": snap.name, "description": snap.description, "status": snap.status,
            "size": snap.size, "volume_id": snap.volume_id, "metadata": dict(snap.metadata_ or {}),
            "created_at": isotime(snap.created_at), "updated_at": isotime(snap.updated_at)}
    if detail:
        body["os-extended-snapshot-attributes:progress"] = "100%" if snap.status == "available" else "0%"
        body["os-extended-snapshot-attributes:project_id"] = snap.project_id
    return body


def volume_type(call: Call, vtype: VolumeType) -> dict:
    body = {"id": vtype.id, "name": vtype.name, "description": vtype.description, "is_public": vtype.is_public,
            "os-volume-type-access:is_public": vtype.is_public, "qos_specs_id": None}
    if policy.check(call.ctx, "type:manage"):
        body["extra_specs"] = dict(vtype.extra_specs or {})
    return body
