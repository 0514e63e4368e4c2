"""Volume actions: flags, extend, status reset, the attach/detach state machine, upload to an image.

The attach family moves only the store's state (Nova drives the data path
through ``kumo.volume.internal``); extend and upload ask the worker to act.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from kumo.db import utcnow
from kumo.errors import BadRequest
from kumo.volume import quota
from kumo.volume.models import Volume, VolumeAttachment
from kumo.volume.volumes import kick

STATUSES = ("creating", "available", "attaching", "in-use", "detaching", "maintenance", "deleting",
            "error", "error_deleting", "error_extending", "error_restoring", "error_managing", "extending",
            "uploading", "downloading", "reserved", "backing-up", "restoring-backup", "awaiting-transfer")


def _need(volume: Volume, allowed: tuple[str, ...], what: str) -> None:
    if volume.status not in allowed:
        wanted = " or ".join(allowed)
        raise BadRequest(f"Invalid volume: Volume {volume.id} status must be {wanted} to {what}, "
                         f"but current status is: {volume.status}.")


def _set(volume: Volume, status: str) -> None:
    volume.status = status
    volume.updated_at = utcnow()


def set_bootable(volume: Volume, bootable: bool) -> None:
    volume.bootable = bootable
    volume.updated_at = utcnow()


def set_readonly(volume: Volume, readonly: bool) -> None:
    _need(volume, ("available",), "update readonly flag")
    volume.read_only = readonly
    volume.updated_at = utcnow()


def extend(cloud, db: Session, volume: Volume, new_size: int) -> None:
    _need(volume, ("available",), "extend")
    if new_size <= volume.size:
        raise BadRequest(f"Invalid input received: New size for extend must be greater than current size. "
                         f"(current: {volume.size}, extended: {new_size}).")
    quota.reserve(db, volume.project_id, gigabytes=new_size - volume.size, size=new_size)
    volume.size = new_size
    _set(volume, "extending")
    db.flush()
    kick(cloud, db, volume.id)


def reset_status(volume: Volume, status: str | None, attach_status: str | None) -> None:
    if status is not None:
        if status not in STATUSES:
            raise BadRequest(f"Invalid input received: Must specify a valid status, got {status!r}.")
        _set(volume, status)
    if attach_status is not None:
        if attach_status not in ("attached", "detached"):
            raise BadRequest(f"Invalid input received: Must specify a valid attach status, got {attach_status!r}.")
        if attach_status == "detached":
            volume.attachments.clear()


def reserve(volume: Volume) -> None:
    if volume.status != "available":
        raise BadRequest(f"Invalid volume: Volume status must be available to reserve, but the status is "
                         f"{volume.status}.")
    _set(volume, "attaching")


def unreserve(volume: Volume) -> None:
    if volume.status == "attaching":
        _set(volume, "in-use" if volume.attachments else "available")


def attach(volume: Volume, server_id: str | None, device: str | None, host: str | None) -> VolumeAttachment:
    _need(volume, ("available", "attaching", "reserved"), "attach")
    attachment = VolumeAttachment(id=str(uuid.uuid4()), server_id=server_id, device=device,
                                  host_name=host, attached_at=utcnow())
    volume.attachments.append(attachment)
    _set(volume, "in-use")
    return attachment


def begin_detaching(volume: Volume) -> None:
    _need(volume, ("in-use",), "begin detaching")
    _set(volume, "detaching")


def roll_detaching(volume: Volume) -> None:
    if volume.status == "detaching":
        _set(volume, "in-use")


def detach(volume: Volume, server_id: str | None = None, attachment_id: str | None = None) -> None:
    _need(volume, ("in-use", "detaching", "attaching"), "detach")
    keep = [a for a in volume.attachments
            if (attachment_id and a.id != attachment_id) or (server_id and a.server_id != server_id)]
    if attachment_id and len(keep) == len(volume.attachments):
        raise BadRequest(f"Invalid volume: attachment {attachment_id} is not one of volume {volume.id}.")
    volume.attachments[:] = keep
    _set(volume, "in-use" if keep else "available")


def upload_to_image(cloud, db: Session, volume: Volume, *, image_name: str, disk_format: str,
                    container_format: str, visibility: str, protected: bool, force: bool) -> dict:
    _need(volume, ("available", "in-use") if force else ("available",), "upload to an image")
    try:
        from kumo.image import internal
    except ImportError:
        raise BadRequest("Image service is not available.") from None
    properties = {k: v for k, v in (volume.image_metadata or {}).items()
                  if k not in ("image_id", "image_name", "disk_format", "container_format", "size", "checksum",
                               "min_disk", "min_ram")}
    image_id = internal.create_image(cloud, db, owner=volume.project_id, name=image_name, disk_format=disk_format,
                                     container_format=container_format, properties=properties,
                                     visibility=visibility)
    volume.upload_image_id = image_id
    _set(volume, "uploading")
    db.flush()
    kick(cloud, db, volume.id)
    return {"id": volume.id, "updated_at": volume.updated_at, "status": "uploading", "display_description":
            volume.description, "size": volume.size, "volume_type": None, "image_id": image_id,
            "container_format": container_format, "disk_format": disk_format, "image_name": image_name,
            "visibility": visibility, "protected": protected, "is_public": visibility == "public"}
