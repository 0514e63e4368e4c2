"""Volume actions: flags, extend, status reset, the attach/detach state machine, upload to an image.

The attach family moves only the store's state (Nova drives the data path
through ``kumo.volume.internal``); extend and upload ask the worker to act.
"""

from __future__ import annotations

import math
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.db import utcnow
from kumo.errors import BadRequest, Conflict
from kumo.volume import quota
from kumo.volume.driver import GiB
from kumo.volume.models import Snapshot, Volume, VolumeAttachment
from kumo.volume.volumes import image_properties, kick

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


def extend(cloud, db: Session, volume: Volume, new_size: int, *, in_use: bool = False) -> None:
    """Grow the volume (the worker resizes it, and its device if bound). ``in_use`` (3.42): an attached
    volume too; it is back in-use afterwards and the instance sees the new size."""
    _need(volume, ("available", "in-use") if in_use else ("available",), "extend")
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


def revert_to_snapshot(cloud, db: Session, volume: Volume, snapshot_id: str | None) -> None:
    """3.40: the volume's content back to its latest snapshot (volume ``reverting``, snapshot ``restoring``,
    then both ``available``)."""
    latest = db.scalar(sa.select(Snapshot).where(Snapshot.volume_id == volume.id)
                       .order_by(Snapshot.created_at.desc(), Snapshot.id.desc()).limit(1).with_for_update())
    if latest is None:
        raise BadRequest(f"Volume {volume.id} doesn't have any snapshots.")
    if snapshot_id is None or snapshot_id != latest.id:
        raise BadRequest(f"Specified snapshot {snapshot_id} is None or not the latest one of volume {volume.id}.")
    if volume.size != latest.size:
        raise BadRequest(f"Can't revert volume {volume.id} to its latest snapshot {latest.id}. The volume size "
                         "must be equal to the snapshot size.")
    if volume.status != "available" or volume.attachments:
        raise Conflict(f"Invalid volume: Volume {volume.id} status must be available to revert, but current "
                       f"status is: {volume.status}.")
    if latest.status != "available":
        raise Conflict(f"Invalid snapshot: Snapshot {latest.id} status must be available to revert, but current "
                       f"status is: {latest.status}.")
    _set(volume, "reverting")
    latest.status = "restoring"
    latest.updated_at = utcnow()
    db.flush()
    kick(cloud, db, volume.id)


def reimage(cloud, db: Session, volume: Volume, image, *, reserved_ok: bool) -> None:
    """3.68: the volume's content replaced by the image's (status ``downloading``, then back to
    ``available``, or ``reserved`` if it was). ``image``: the image service's ``boot_image`` answer."""
    allowed = ("available", "error", "reserved") if reserved_ok else ("available", "error")
    _need(volume, allowed, "reimage")
    needed = max(math.ceil((image.size or 0) / GiB), 1)
    if needed > volume.size or (image.min_disk or 0) > volume.size:
        raise BadRequest(f"Invalid input received: Size of specified image {max(needed, image.min_disk or 0)}GB "
                         f"is larger than volume size {volume.size}GB.")
    volume.image_id = image.id
    volume.bootable = True
    volume.image_metadata = image_properties(image)
    _set(volume, "downloading")
    db.flush()
    kick(cloud, db, volume.id)
