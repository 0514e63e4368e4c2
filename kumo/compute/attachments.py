"""Volumes on servers (``os-volume_attachments``): reserve through the volume service's contract,
record the mapping, and let the worker attach or detach it in the driver."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.compute import instance_actions, servers
from kumo.compute.models import BlockDeviceMapping, Server
from kumo.context import Context
from kumo.errors import BadRequest, Conflict, NotFound

ATTACHABLE = ("active", "stopped", "paused", "suspended", "resized")
# Nova's answers for a multiattach volume: below 2.60, and from 2.60 with a virt driver that cannot share a
# disk between instances (this one: a volume's device belongs to one instance at a time)
MULTIATTACH_OLD = "Multiattach volumes are only supported starting with compute API version 2.60."
MULTIATTACH_UNSUPPORTED = "Volume {} has 'multiattach' set, which is not supported for this instance."


def _check(server: Server, label: str) -> None:
    if server.task_state is not None:
        raise Conflict(f"Cannot '{label}' instance {server.id} while it is in task_state {server.task_state}")
    if server.vm_state not in ATTACHABLE:
        raise Conflict(f"Cannot '{label}' instance {server.id} while it is in vm_state {server.vm_state}")


def _next_device(db: Session, server_id: str) -> str:
    used = set(db.scalars(sa.select(BlockDeviceMapping.device).where(BlockDeviceMapping.server_id == server_id)))
    used.add("/dev/vda")
    for letter in "bcdefghijklmnopqrstuvwxyz":
        if f"/dev/vd{letter}" not in used:
            return f"/dev/vd{letter}"
    raise BadRequest("No free disk device names for the server.")


def get(db: Session, server_id: str, volume_id: str) -> BlockDeviceMapping:
    row = db.scalar(sa.select(BlockDeviceMapping).where(BlockDeviceMapping.server_id == server_id,
                                                      BlockDeviceMapping.volume_id == volume_id))
    if row is None:
        raise NotFound(f"Volume {volume_id} is not attached to the server {server_id}.")
    return row


def attach(cloud, db: Session, ctx: Context, server: Server, volume_id: str,
           device: str | None = None, multiattach_ok: bool = False, tag: str | None = None,
           delete_on_termination: bool = False) -> BlockDeviceMapping:
    """``multiattach_ok``: the request's microversion is 2.60 or later."""
    from kumo.volume import internal as volumes

    servers.check_unlocked(server, ctx)
    _check(server, "attach_volume")
    if volumes.multiattach(db, [volume_id]):
        if not multiattach_ok:
            raise BadRequest(MULTIATTACH_OLD)
        raise Conflict(MULTIATTACH_UNSUPPORTED.format(volume_id))
    if db.scalar(sa.select(BlockDeviceMapping.id).where(BlockDeviceMapping.server_id == server.id,
                                                      BlockDeviceMapping.volume_id == volume_id)) is not None:
        raise BadRequest(f"Invalid volume: volume {volume_id} is already attached to the server {server.id}.")
    if device and not device.startswith("/dev/"):
        raise BadRequest(f"The supplied device path ({device}) is invalid.")
    if device and db.scalar(sa.select(BlockDeviceMapping.id).where(BlockDeviceMapping.server_id == server.id,
                                                                 BlockDeviceMapping.device == device)) is not None:
        raise BadRequest(f"The supplied device path ({device}) is in use.")
    try:
        volumes.reserve_for_attach(db, volume_id, server.project_id)
    except NotFound:
        raise NotFound(f"Volume {volume_id} could not be found.") from None
    row = BlockDeviceMapping(id=str(uuid.uuid4()), server_id=server.id, volume_id=volume_id,
                           device=device or _next_device(db, server.id), state="attaching", tag=tag,
                           delete_on_termination=delete_on_termination)
    db.add(row)
    instance_actions.record(db, server.id, "attach_volume", ctx.request_id, ctx.project_id or server.project_id,
                            ctx.user_id)
    db.flush()
    servers.submit(cloud, db, server.id)
    return row


def detach(cloud, db: Session, ctx: Context, server: Server, volume_id: str) -> None:
    from kumo.volume import internal as volumes

    servers.check_unlocked(server, ctx)
    _check(server, "detach_volume")
    row = get(db, server.id, volume_id)
    if row.boot_index == 0:
        raise BadRequest("Cannot detach a root device volume")
    if row.state != "attached":
        raise BadRequest(f"Invalid volume: volume {volume_id} is {row.state}, not attached.")
    volumes.begin_detach(db, volume_id, server.id)
    row.state = "detaching"
    instance_actions.record(db, server.id, "detach_volume", ctx.request_id, ctx.project_id or server.project_id,
                            ctx.user_id)
    db.flush()
    servers.submit(cloud, db, server.id)


def update(db: Session, ctx: Context, server: Server, volume_id: str, *, new_volume_id: str,
           changes: dict) -> None:
    """``PUT os-volume_attachments/{volume_id}``: from 2.85 ``delete_on_termination`` may change; the other
    fields of the attachment are not mutable. Naming another volume asks for a swap, which this driver cannot
    do (a volume's device is set up at attach)."""
    row = get(db, server.id, volume_id)
    for key, current in (("id", volume_id), ("serverId", server.id), ("device", row.device), ("tag", row.tag)):
        if key in changes and changes[key] != current:
            raise BadRequest(f"The {key} property is not mutable")
    if new_volume_id != volume_id:
        raise Conflict(f"Swapping volume {volume_id} of instance {server.id} is not supported by this driver.")
    if "delete_on_termination" in changes:
        row.delete_on_termination = bool(changes["delete_on_termination"])
        db.flush()
