"""What other services ask of block storage (Nova: os-volume_attachments and boot from volume).

Each function works in the caller's transaction ``db``; statuses follow
Cinder's attach state machine (available → attaching → in-use → detaching →
available).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.compute.driver import BlockDevice
from kumo.context import Context
from kumo.errors import BadRequest, NotFound
from kumo.volume import actions, volumes
from kumo.volume.models import Volume


def _volume(db: Session, volume_id: str) -> Volume:
    volume = db.get(Volume, volume_id, with_for_update=True) if volume_id else None
    if volume is None:
        raise NotFound(f"Volume {volume_id} could not be found.")
    return volume


def reserve_for_attach(db: Session, volume_id: str, project_id: str) -> None:
    """available → attaching; NotFound for an unknown volume or another project's."""
    volume = _volume(db, volume_id)
    if volume.project_id != project_id:
        raise NotFound(f"Volume {volume_id} could not be found.")
    if volume.status != "available":
        raise BadRequest(f"Invalid volume: volume {volume_id} status must be available, "
                         f"but current status is: {volume.status}.")
    actions.reserve(volume)
    db.flush()


def multiattach(db: Session, volume_ids: list[str]) -> list[str]:
    """Those of ``volume_ids`` that are multiattach volumes (Nova refuses them below 2.60)."""
    if not volume_ids:
        return []
    return list(db.scalars(sa.select(Volume.id).where(Volume.id.in_(volume_ids), Volume.multiattach.is_(True))))


def unreserve(db: Session, volume_id: str) -> None:
    actions.unreserve(_volume(db, volume_id))
    db.flush()


def attach_complete(db: Session, volume_id: str, server_id: str, device_name: str, host: str = "kumo") -> str:
    """→ in-use with an attachment row; returns the attachment id. Idempotent for the same server."""
    volume = _volume(db, volume_id)
    for attachment in volume.attachments:
        if attachment.server_id == server_id:
            return attachment.id
    attachment = actions.attach(volume, server_id, device_name, host)
    db.flush()
    return attachment.id


def begin_detach(db: Session, volume_id: str, server_id: str) -> None:
    volume = _volume(db, volume_id)
    if volume.status == "detaching":
        return
    actions.begin_detaching(volume)
    db.flush()


def detach_complete(db: Session, volume_id: str, server_id: str) -> None:
    volume = _volume(db, volume_id)
    if not any(a.server_id == server_id for a in volume.attachments) and volume.status == "available":
        return
    actions.detach(volume, server_id=server_id)
    db.flush()


def delete_volume(cloud, db: Session, volume_id: str) -> None:
    """Delete a detached volume (boot from volume with delete_on_termination): deleting, then the worker
    removes it, exactly as ``DELETE /volumes/{id}`` does."""
    volumes.delete(cloud, db, _volume(db, volume_id))


def block_device(cloud, db: Session, volume_id: str, device_name: str) -> BlockDevice:
    """The host path of the volume (its loop device on the local backend, set up on demand)."""
    volume = _volume(db, volume_id)
    path = cloud.volume_driver.connect(volume.id)
    return BlockDevice(volume_id=volume.id, path=path, device_name=device_name, read_only=bool(volume.read_only))


def release_device(cloud, volume_id: str) -> None:
    """Free the host device ``block_device`` set up (its loop device) once the instance let go of it.
    Callers do this while the volume is still attached or detaching in the store, so no new attach can
    be using the device yet."""
    cloud.volume_driver.disconnect(volume_id)


def create_from_image(cloud, db: Session, *, project_id: str, image_id: str, size_gb: int, name: str = "",
                      user_id: str = "", volume_type: str | None = None) -> str:
    """A new bootable volume (status creating) filled from the image by the volume worker; ``volume_type``
    a type's name or id (else the project's default type)."""
    ctx = Context(user_id=user_id, project_id=project_id, roles=frozenset({"member"}))
    volume = volumes.create(cloud, db, ctx, project_id, size=size_gb, name=name or None, image_id=image_id,
                            volume_type=volume_type)
    return volume.id
