"""Snapshots of volumes: create, read, list, update, delete, metadata (worker topic ``volume.snapshot``)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.db import after_commit, utcnow
from kumo.errors import BadRequest, NotFound
from kumo.volume import filtering, quota
from kumo.volume.models import Snapshot
from kumo.volume.volumes import AVAILABILITY_ZONE, check_metadata, count, page, visible
from kumo.volume.volumes import get as get_volume

COLUMNS = {"id": Snapshot.id, "name": Snapshot.name, "status": Snapshot.status, "size": Snapshot.size,
           "volume_id": Snapshot.volume_id, "created_at": Snapshot.created_at, "updated_at": Snapshot.updated_at,
           "project_id": Snapshot.project_id}
LEGACY_FILTERS = ("name", "display_name", "status", "volume_id", "metadata")
TRANSITIONAL = ("creating", "deleting")


def get(db: Session, ctx: Context, snapshot_id: str) -> Snapshot:
    snap = db.get(Snapshot, snapshot_id) if snapshot_id else None
    if snap is None or not visible(ctx, snap.project_id):
        raise NotFound(f"Snapshot {snapshot_id} could not be found.")
    return snap


def kick(cloud, db: Session, snapshot_id: str) -> None:
    after_commit(db, lambda: cloud.workers.submit("volume.snapshot", snapshot_id))


def create(cloud, db: Session, ctx: Context, *, volume_id: str, name: str | None, description: str | None,
           metadata: dict | None, force: bool = False) -> Snapshot:
    volume = get_volume(db, ctx, volume_id)
    allowed = ("available", "in-use") if force else ("available",)
    if volume.status not in allowed:
        raise BadRequest(f"Invalid volume: Volume {volume.id} status must be available, but current status is: "
                         f"{volume.status}.")
    quota.reserve(db, volume.project_id, snapshots=1, gigabytes=volume.size)
    snap = Snapshot(id=str(uuid.uuid4()), name=name, description=description, project_id=volume.project_id,
                    user_id=ctx.user_id, volume_id=volume.id, size=volume.size, status="creating",
                    metadata_=check_metadata(metadata), created_at=utcnow())
    db.add(snap)
    db.flush()
    kick(cloud, db, snap.id)
    return snap


def list_(db: Session, project_id: str | None, query, *, rules: filtering.Rules = filtering.LEGACY,
          admin: bool = False, with_count: bool = False) -> tuple[list[Snapshot], bool, int | None]:
    stmt = sa.select(Snapshot)
    if project_id is not None:
        stmt = stmt.where(Snapshot.project_id == project_id)
    given = filtering.requested(query, "snapshot", rules, admin=admin, legacy=LEGACY_FILTERS)
    if "name" in given and "display_name" in given:
        del given["display_name"]
    wanted_metadata = given.pop("metadata", None)  # 3.22; a JSON column: matched below, in Python
    if not rules.snapshot_metadata:
        wanted_metadata = None
    stmt = stmt.where(*filtering.conditions(given, COLUMNS, rules,
                                            constants={"availability_zone": (AVAILABILITY_ZONE, (3, 0))}))
    if wanted_metadata is None:
        rows, more = page(db, stmt, Snapshot, COLUMNS, query,
                          lambda m: NotFound(f"Snapshot {m} could not be found."))
        return rows, more, count(db, stmt) if with_count else None
    wanted = {k: str(v) for k, v in filtering.parse_dict(wanted_metadata, "metadata").items()}
    matching = [r.id for r in db.scalars(stmt) if wanted.items() <= (r.metadata_ or {}).items()]
    stmt = stmt.where(Snapshot.id.in_(matching))
    rows, more = page(db, stmt, Snapshot, COLUMNS, query, lambda m: NotFound(f"Snapshot {m} could not be found."))
    return rows, more, len(matching) if with_count else None


def update(db: Session, snap: Snapshot, values: dict) -> Snapshot:
    for field in ("name", "description"):
        if field in values:
            setattr(snap, field, values[field])
    snap.updated_at = utcnow()
    db.flush()
    return snap


def delete(cloud, db: Session, snap: Snapshot, *, force: bool = False) -> None:
    if not force and snap.status not in ("available", "error"):
        raise BadRequest("Invalid snapshot: Volume Snapshot status must be available or error and must not be "
                         "part of a group.")
    snap.status = "deleting"
    snap.updated_at = utcnow()
    db.flush()
    kick(cloud, db, snap.id)


def set_metadata(db: Session, snap: Snapshot, values: dict, *, replace: bool) -> dict:
    check_metadata(values)
    snap.metadata_ = dict(values) if replace else {**(snap.metadata_ or {}), **values}
    snap.updated_at = utcnow()
    db.flush()
    return snap.metadata_


def delete_metadata_item(db: Session, snap: Snapshot, key: str) -> None:
    if key not in (snap.metadata_ or {}):
        raise NotFound("Metadata item was not found")
    snap.metadata_ = {k: v for k, v in snap.metadata_.items() if k != key}
    snap.updated_at = utcnow()
    db.flush()
