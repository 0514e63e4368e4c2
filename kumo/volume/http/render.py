"""Volumes, snapshots and types as Cinder v3 renders them."""

from __future__ import annotations

import functools
import uuid

from kumo.api.routing import Call
from kumo.volume import volumes as volume_logic
from kumo.volume.http.common import isotime, links, version
from kumo.volume.models import Snapshot, Volume, VolumeAttachment, VolumeType
from kumo.volume.policies import policy


def service_uuid(call: Call) -> str:
    """The uuid of the one volume service (``kumo@<driver>``), stable across restarts."""
    return _service_uuid(call.cloud.volume_driver.name)


@functools.lru_cache(maxsize=8)
def _service_uuid(driver: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kumo-volume:kumo@{driver}"))


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
                        for a in volume.attachments if a.attach_status == "attached"],
        "links": links(call, volume.project_id, "volumes", volume.id),
        "bootable": "true" if volume.bootable else "false", "encrypted": False, "multiattach": volume.multiattach,
        "metadata": metadata, "volume_type": type_name, "snapshot_id": volume.snapshot_id,
        "source_volid": volume.source_volid, "user_id": volume.user_id, "replication_status": None,
        "consistencygroup_id": None, "migration_status": None,
        "os-vol-tenant-attr:tenant_id": volume.project_id,
    }
    if volume.image_metadata:
        body["volume_image_metadata"] = dict(volume.image_metadata)
    admin = policy.check(call.ctx, "volume:admin_action")
    if admin:
        body["os-vol-host-attr:host"] = f"kumo@{call.cloud.volume_driver.name}#{call.cloud.volume_driver.name}"
        body["os-vol-mig-status-attr:migstat"] = None
        body["os-vol-mig-status-attr:name_id"] = None
    _versioned_volume_fields(call, volume, body, admin)
    return body


def _versioned_volume_fields(call: Call, volume: Volume, body: dict, admin: bool) -> None:
    """What later microversions add to a volume's detail (Cinder's v3 view)."""
    asked = version(call)
    if asked >= (3, 13):
        body["group_id"] = None  # no generic volume groups here
    if asked >= (3, 21) and admin:
        body["provider_id"] = None
    if asked >= (3, 48):
        body["shared_targets"] = False  # a loop device (or file) per volume: nothing shared between volumes
        body["service_uuid"] = service_uuid(call)
    if asked >= (3, 61) and admin:
        body["cluster_name"] = None
    if asked >= (3, 63):
        body["volume_type_id"] = volume.volume_type_id
    # 3.64 shows encryption_key_id only for an encrypted volume: none is, here
    if asked >= (3, 65):
        body["consumes_quota"] = True


def created_volume(call: Call, vol: Volume) -> dict:
    body = volume(call, vol)
    for key in [k for k in body if k.startswith("os-") or k == "volume_image_metadata"]:
        del body[key]
    return body


def snapshot(call: Call, snap: Snapshot, detail: bool = True, versioned: bool = True) -> dict:
    """``detail``: the extended attributes (show and detailed lists); ``versioned``: the fields of later
    microversions (Cinder's detail view: show, create, update and detailed lists)."""
    body = {"id": snap.id, "name": snap.name, "description": snap.description, "status": snap.status,
            "size": snap.size, "volume_id": snap.volume_id, "metadata": dict(snap.metadata_ or {}),
            "created_at": isotime(snap.created_at), "updated_at": isotime(snap.updated_at)}
    if detail:
        body["os-extended-snapshot-attributes:progress"] = "100%" if snap.status == "available" else "0%"
        body["os-extended-snapshot-attributes:project_id"] = snap.project_id
    if versioned:
        asked = version(call)
        if asked >= (3, 14):
            body["group_snapshot_id"] = None
        if asked >= (3, 41):
            body["user_id"] = snap.user_id
        if asked >= (3, 65):
            body["consumes_quota"] = True
    return body


def attachment(att: VolumeAttachment, volume_id: str, detail: bool = True) -> dict:
    """An attachment as the attachments API (3.27+) shows it."""
    body = {"id": att.id, "status": att.attach_status, "instance": att.server_id, "volume_id": volume_id}
    if detail:
        body.update(attached_at=isotime(att.attached_at) or "", detached_at="", attach_mode=att.attach_mode,
                    connection_info=connection_info(att, volume_id))
    return body


def connection_info(att: VolumeAttachment, volume_id: str) -> dict | None:
    """What a consumer connects with, once a connector is known: Kumo's volumes are local block devices
    that the host they live on binds when an instance uses them (``kumo.volume.internal.block_device``)."""
    if att.connector is None:
        return None
    return {"driver_volume_type": "local", "attachment_id": att.id, "access_mode": att.attach_mode,
            "data": {"volume_id": volume_id, "access_mode": att.attach_mode, "encrypted": False,
                     "discard": True, "host": (att.connector or {}).get("host")}}


def volume_type(call: Call, vtype: VolumeType) -> dict:
    body = {"id": vtype.id, "name": vtype.name, "description": vtype.description, "is_public": vtype.is_public,
            "os-volume-type-access:is_public": vtype.is_public, "qos_specs_id": None}
    if policy.check(call.ctx, "type:manage"):
        body["extra_specs"] = dict(vtype.extra_specs or {})
    return body
