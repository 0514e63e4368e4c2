"""Volume attachments as a resource of their own (Cinder's attachments API, microversion 3.27+): the
flow Nova follows since Queens.

create (no connector: the volume is ``reserved``; with one: ``attaching``) → update with the connector
(``attaching``) → ``os-complete`` (3.44: the attachment ``attached``, the volume ``in-use``) → delete (the
volume ``available`` again once nothing else holds it). They are the same rows as the attachments
``os-attach`` and Nova's in-process attach make, so a volume's ``attachments`` list shows the attached
ones whichever way they came.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.db import pagination, utcnow
from kumo.errors import BadRequest, NotFound
from kumo.volume import filtering, volumes
from kumo.volume.models import Volume, VolumeAttachment

COLUMNS = {"id": VolumeAttachment.id, "volume_id": VolumeAttachment.volume_id,
           "instance_id": VolumeAttachment.server_id, "status": VolumeAttachment.attach_status,
           "attach_status": VolumeAttachment.attach_status, "attached_at": VolumeAttachment.attached_at}
MODES = ("rw", "ro")


def get(db: Session, ctx: Context, attachment_id: str, *, lock: bool = False) -> tuple[VolumeAttachment, Volume]:
    """The attachment and its volume (locked for a change); NotFound unless the caller sees the volume."""
    att = db.get(VolumeAttachment, attachment_id) if attachment_id else None
    volume = db.get(Volume, att.volume_id, with_for_update=lock) if att is not None else None
    if volume is None or not volumes.visible(ctx, volume.project_id):
        raise NotFound(f"Volume attachment {attachment_id} could not be found.")
    return att, volume


def _check_connector(connector) -> dict:
    if not isinstance(connector, dict):
        raise BadRequest("Invalid input received: connector must be an object.")
    return connector


def create(db: Session, ctx: Context, *, volume_id: str, instance_uuid: str, connector: dict | None = None,
           mode: str = "rw") -> tuple[VolumeAttachment, Volume]:
    volume = volumes.get(db, ctx, volume_id, lock=True)
    if mode not in MODES:
        raise BadRequest(f"Invalid input received: Invalid attachment mode '{mode}'; it must be rw or ro.")
    if volume.read_only and mode == "rw":
        raise BadRequest(f"Invalid volume: Volume {volume.id} is read-only; the attachment mode must be ro.")
    held = [a for a in volume.attachments if a.attach_status != "detached"]
    if volume.status == "available" or (volume.multiattach and volume.status in ("in-use", "reserved")):
        pass
    else:
        raise BadRequest(f"Invalid volume: Volume {volume.id} status must be available or in-use (multiattach) "
                         f"to reserve, but the current status is: {volume.status}.")
    if held and not volume.multiattach:
        raise BadRequest(f"Invalid volume: Volume {volume.id} is already attached and is not multiattach.")
    att = VolumeAttachment(id=str(uuid.uuid4()), server_id=instance_uuid, attach_status="reserved", attach_mode=mode)
    volume.attachments.append(att)
    if volume.status == "available":
        _status(volume, "reserved")
    if connector is not None:
        update(db, att, volume, connector)
    db.flush()
    return att, volume


def update(db: Session, att: VolumeAttachment, volume: Volume, connector) -> VolumeAttachment:
    """The consumer's connector: the attachment (and a volume not yet in use) go to ``attaching``."""
    connector = _check_connector(connector)
    if att.attach_status not in ("reserved", "attaching"):
        raise BadRequest(f"Invalid volume: attachment {att.id} is {att.attach_status}; only a reserved "
                         "attachment can be given a connector.")
    att.connector = dict(connector)
    att.device = connector.get("mountpoint") or att.device
    att.host_name = connector.get("host") or att.host_name
    if connector.get("mode") in MODES:
        att.attach_mode = connector["mode"]
    att.attach_status = "attaching"
    if volume.status in ("reserved", "available"):
        _status(volume, "attaching")
    db.flush()
    return att


def complete(db: Session, att: VolumeAttachment, volume: Volume) -> None:
    """``os-complete``: attached; the volume in-use."""
    att.attach_status = "attached"
    att.attached_at = att.attached_at or utcnow()
    _status(volume, "in-use")
    db.flush()


def delete(db: Session, att: VolumeAttachment, volume: Volume) -> list[VolumeAttachment]:
    """Remove the attachment; the volume is in-use while another is attached, reserved while another is
    reserved, available otherwise. Returns the attachments left sharing its connection (none here: every
    attachment has a device of its own)."""
    volume.attachments.remove(att)
    left = {a.attach_status for a in volume.attachments}
    if "attached" in left:
        _status(volume, "in-use")
    elif left & {"reserved", "attaching"}:
        _status(volume, "reserved" if "attaching" not in left else "attaching")
    elif volume.status in ("reserved", "attaching", "in-use", "detaching"):
        _status(volume, "available")
    db.flush()
    return []


def list_(db: Session, project_id: str | None, query, *, rules: filtering.Rules,
          admin: bool) -> tuple[list[VolumeAttachment], bool]:
    """Attachments of the project's volumes (every project's: None), filtered, in id order, paged."""
    stmt = sa.select(VolumeAttachment).join(Volume, Volume.id == VolumeAttachment.volume_id)
    if project_id is not None:
        stmt = stmt.where(Volume.project_id == project_id)
    given = filtering.requested(query, "attachment", rules, admin=admin,
                                legacy=tuple(filtering.RESOURCE_FILTERS["attachment"]))
    stmt = stmt.where(*filtering.conditions(given, COLUMNS, rules))
    limit = pagination.parse_limit(query.get("limit"))
    rows = pagination.paginate(db, stmt, VolumeAttachment, COLUMNS, [("id", False)], limit=limit,
                               marker=query.get("marker") or None,
                               marker_error=NotFound(f"Volume attachment {query.get('marker')} could not be found."))
    return rows, limit is not None and limit > 0 and len(rows) == limit


def _status(volume: Volume, status: str) -> None:
    volume.status = status
    volume.updated_at = utcnow()
