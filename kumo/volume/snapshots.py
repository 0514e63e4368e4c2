"""Snapshots of volumes: create, read, list, update, delete, metadata (worker topic ``volume.snapshot``)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.db import after_commit, filters, utcnow
from kumo.errors import BadRequest, NotFound
from kumo.volume import quota
from kumo.volume.models import Snapshot
from kumo.volume.volumes import check_metadata, get as get_volume, page, parse_dict, visible

COLUMNS = {"id": Snapshot.id, "name": Snapshot.name, "status": Snapshot.status, "size": Snapshot.size,
           "volume_id": Snapshot.volume_id, "created_at": Snapshot.created_at, "updated_at": Snapshot.updated_at,
           "project_id": Snapshot.project_id}
FILTERS = ("name", "status", "volume_id")
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


def list_(db: Session, project_id: str | None, query) -> tuple[list[Snapshot], bool]:
    stmt = sa.select(Snapshot)
    if project_id is not None:
        stmt = stmt.where(Snapshot.project_id == project_id)
    given = {}
    for key in FILTERS:
        value = query.get(key) if key != "name" else (query.get("name") or query.get("display_name"))
        if value is not None:
            given[key] = value
    stmt = filters.apply(stmt, COLUMNS, given)
    rows, more = page(db, stmt, Snapshot, COLUMNS, query, lambda m: NotFound(f"Snapshot {m} could not be found."))
    if query.get("metadata"):
        wanted = {k: str(v) for k, v in parse_dict(query.get("metadata"), "metadata").items()}
        rows = [r for r in rows if wanted.items() <= (r.metadata_ or {}).items()]
    return rows, more


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
