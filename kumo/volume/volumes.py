"""Volumes: create (blank, from a snapshot, a clone, from an image), read, list, update, delete, metadata.

The API records intent (status ``creating``, ``deleting`` …) and, once the
transaction commits, asks the ``volume.volume`` worker to drive the driver
(see ``worker``). Quota is counted here, in the creating transaction.
"""

from __future__ import annotations

import math
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.db import after_commit, pagination, utcnow
from kumo.errors import BadRequest, NotFound
from kumo.volume import filtering, quota, types
from kumo.volume.driver import GiB
from kumo.volume.models import Snapshot, Volume, VolumeMetadata

AVAILABILITY_ZONE = "nova"
DELETABLE = ("available", "error", "error_restoring", "error_extending", "error_managing")
TRANSITIONAL = ("creating", "deleting", "extending", "uploading", "reverting", "downloading")  # resumed at start

COLUMNS = {"id": Volume.id, "name": Volume.name, "status": Volume.status, "size": Volume.size,
           "availability_zone": Volume.availability_zone, "created_at": Volume.created_at,
           "updated_at": Volume.updated_at, "bootable": Volume.bootable, "description": Volume.description,
           "project_id": Volume.project_id, "user_id": Volume.user_id}
SORT_ALIASES = {"display_name": "name", "display_description": "description"}
# what a non-admin may filter on before 3.31 (Cinder's query_volume_filters, and size and user_id as before)
LEGACY_FILTERS = ("name", "display_name", "status", "availability_zone", "bootable", "size", "user_id", "metadata",
                  "group_id")


def visible(ctx: Context, project_id: str) -> bool:
    return ctx.is_admin or project_id == ctx.project_id


def get(db: Session, ctx: Context, volume_id: str, *, lock: bool = False) -> Volume:
    volume = db.get(Volume, volume_id, with_for_update=lock) if volume_id else None
    if volume is None or not visible(ctx, volume.project_id):
        raise NotFound(f"Volume {volume_id} could not be found.")
    return volume


def parse_size(value, field: str = "size") -> int:
    """Cinder takes an integer or a string of digits, at least 1."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
        raise BadRequest(f"Invalid input for field/attribute {field}. Value: {value}. "
                         f"'{value}' is not a valid positive integer.")
    size = int(str(value).strip())
    if size < 1 or size > 2 ** 31 - 1:
        raise BadRequest(f"Invalid input for field/attribute {field}. Value: {value}. "
                         f"{value} is less than the minimum of 1." if size < 1 else
                         f"Invalid input for field/attribute {field}. Value: {value}. Too large.")
    return size


def check_metadata(metadata) -> dict:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise BadRequest("Invalid input received: Metadata must be a dictionary.")
    for key, value in metadata.items():
        if not key or len(key) > 255:
            raise BadRequest("Invalid input for field/attribute metadata. Metadata property key must be "
                             "between 1 and 255 characters.")
        if not isinstance(value, str) or len(value) > 255:
            raise BadRequest(f"Invalid input for field/attribute metadata. Value of metadata key {key} must be "
                             "a string of at most 255 characters.")
    return metadata


def create(cloud, db: Session, ctx: Context, project_id: str, *, size=None, name: str | None = None,
           description: str | None = None, metadata: dict | None = None, volume_type: str | None = None,
           availability_zone: str | None = None, snapshot_id: str | None = None,
           source_volid: str | None = None, image_id: str | None = None, multiattach: bool = False) -> Volume:
    metadata = check_metadata(metadata)
    if availability_zone not in (None, AVAILABILITY_ZONE):
        raise BadRequest(f"Invalid input received: Availability zone '{availability_zone}' is invalid.")
    vtype = types.get(db, volume_type, project_id) if volume_type else types.default(db, project_id)
    size = parse_size(size) if size is not None else None
    image_metadata = None
    bootable = False
    if snapshot_id:
        snap = db.get(Snapshot, snapshot_id)
        if snap is None or not visible(ctx, snap.project_id):
            raise NotFound(f"Snapshot {snapshot_id} could not be found.")
        if snap.status != "available":
            raise BadRequest("Invalid snapshot: Originating snapshot status must be one of 'available' values.")
        size = size or snap.size
        if size < snap.size:
            raise BadRequest(f"Invalid input received: Volume size '{size}'GB cannot be smaller than the snapshot "
                             f"size {snap.size}GB. They must be >= original snapshot size.")
        bootable = db.get(Volume, snap.volume_id).bootable
    elif source_volid:
        source = db.get(Volume, source_volid)
        if source is None or not visible(ctx, source.project_id):
            raise NotFound(f"Volume {source_volid} could not be found.")
        if source.status not in ("available", "in-use"):
            raise BadRequest("Invalid volume: Unable to create clone, the source volume status must be "
                             f"'available' or 'in-use' but is '{source.status}'.")
        size = size or source.size
        if size < source.size:
            raise BadRequest(f"Invalid input received: Clone volume size '{size}'GB cannot be smaller than the "
                             f"source volume size {source.size}GB. They must be >= original volume size.")
        bootable, image_metadata = source.bootable, source.image_metadata
    elif image_id:
        image = _boot_image(cloud, db, image_id, project_id)
        needed = max(math.ceil((image.size or 0) / GiB), 1)
        size = size or max(needed, image.min_disk or 0)
        if needed > size:
            raise BadRequest(f"Invalid input received: Size of specified image {needed}GB is larger than volume "
                             f"size {size}GB.")
        if (image.min_disk or 0) > size:
            raise BadRequest(f"Invalid input received: Volume size {size}GB cannot be smaller than the image "
                             f"minDisk size {image.min_disk}GB.")
        bootable = True
        image_metadata = image_properties(image)
    if size is None:
        raise BadRequest("Invalid input received: Volume size must be given unless the volume is created from "
                         "a snapshot, a source volume or an image.")
    quota.reserve(db, project_id, volumes=1, gigabytes=size, size=size)
    volume = Volume(id=str(uuid.uuid4()), name=name, description=description, project_id=project_id,
                    user_id=ctx.user_id, size=size, status="creating", availability_zone=AVAILABILITY_ZONE,
                    volume_type_id=vtype.id, bootable=bootable,
                    multiattach=bool(multiattach) or types.multiattach(vtype),
                    snapshot_id=snapshot_id or None, source_volid=source_volid or None,
                    image_id=image_id or None, image_metadata=image_metadata, created_at=utcnow())
    volume.metadata_items = [VolumeMetadata(key=k, value=v) for k, v in metadata.items()]
    db.add(volume)
    db.flush()
    kick(cloud, db, volume.id)
    return volume


def image_properties(image) -> dict:
    """``volume_image_metadata`` of a volume filled from ``image``."""
    return {"image_id": image.id, "image_name": image.name, "disk_format": image.disk_format,
            "container_format": image.container_format, "size": str(image.size or 0),
            "min_disk": str(image.min_disk or 0), "min_ram": str(image.min_ram or 0)}


def boot_image(cloud, db: Session, image_id: str, project_id: str):
    """The image a volume is filled from, or Cinder's 400."""
    return _boot_image(cloud, db, image_id, project_id)


def _boot_image(cloud, db: Session, image_id: str, project_id: str):
    try:
        from kumo.image import internal
    except ImportError:
        raise BadRequest("Invalid image identifier or unable to access requested image.") from None
    try:
        return internal.boot_image(cloud, db, image_id, project_id)
    except NotFound:
        raise BadRequest("Invalid image identifier or unable to access requested image.") from None
    except BadRequest as err:
        raise BadRequest(f"Invalid image: {err.message}") from None
    except Exception as err:  # Conflict: the image is not active
        if getattr(err, "status", 500) < 500:
            raise BadRequest(f"Invalid image: {err}") from None
        raise


def kick(cloud, db: Session, volume_id: str) -> None:
    """Have the worker look at the volume once this transaction has committed."""
    after_commit(db, lambda: cloud.workers.submit("volume.volume", volume_id))


def list_(db: Session, project_id: str | None, query, *, rules: filtering.Rules = filtering.LEGACY,
          admin: bool = False, with_count: bool = False) -> tuple[list[Volume], bool, int | None]:
    """Volumes visible to the caller matching ``query`` (Cinder's filters, sort, limit/marker/offset).
    ``project_id`` None means every project (admin's all_tenants). Returns (rows, more may follow, the
    count of all matches when ``with_count``)."""
    stmt = sa.select(Volume)
    if project_id is not None:
        stmt = stmt.where(Volume.project_id == project_id)
    stmt = _filtered(db, stmt, query, rules, admin)
    rows, more = page(db, stmt, Volume, COLUMNS, query, lambda m: NotFound(f"Volume {m} could not be found."))
    return rows, more, count(db, stmt) if with_count else None


# fields every volume has the same value of here: (value, the microversion their filter comes with)
CONSTANT_FIELDS = {"group_id": (None, (3, 10)), "migration_status": (None, (3, 0)), "consumes_quota": (True, (3, 65))}


def _filtered(db: Session, stmt, query, rules: filtering.Rules, admin: bool):
    given = filtering.requested(query, "volume", rules, admin=admin, legacy=LEGACY_FILTERS)
    if "name" in given and "display_name" in given:
        del given["display_name"]
    image_metadata = given.pop("glance_metadata", None)
    stmt = stmt.where(*filtering.conditions(given, COLUMNS, rules, metadata=_metadata_condition,
                                            booleans=("bootable",), constants=CONSTANT_FIELDS))
    if image_metadata is not None and rules.glance_metadata:  # 3.4: a JSON column, matched in Python
        wanted = {k: str(v) for k, v in filtering.parse_dict(image_metadata, "glance_metadata").items()}
        ids = [vid for vid, meta in db.execute(stmt.with_only_columns(Volume.id, Volume.image_metadata))
               if wanted.items() <= {k: str(v) for k, v in (meta or {}).items()}.items()]
        stmt = stmt.where(Volume.id.in_(ids))
    return stmt


def _metadata_condition(wanted: dict):
    return sa.and_(*[sa.exists().where(VolumeMetadata.volume_id == Volume.id, VolumeMetadata.key == key,
                                       VolumeMetadata.value == str(value)) for key, value in wanted.items()])


def count(db: Session, stmt) -> int:
    return db.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))


def summary(db: Session, project_id: str | None, query, *, rules: filtering.Rules,
            admin: bool) -> tuple[int, int, dict[str, list]]:
    """``GET volumes/summary``: how many volumes match, their total size, and every metadata value by key."""
    stmt = sa.select(Volume)
    if project_id is not None:
        stmt = stmt.where(Volume.project_id == project_id)
    matched = _filtered(db, stmt, query, rules, admin).with_only_columns(Volume.id, Volume.size).subquery()
    total, size = db.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(matched.c.size), 0))).one()
    metadata: dict[str, list] = {}
    for key, value in db.execute(sa.select(VolumeMetadata.key, VolumeMetadata.value).distinct()
                                 .where(VolumeMetadata.volume_id.in_(sa.select(matched.c.id)))
                                 .order_by(VolumeMetadata.key, VolumeMetadata.value)):
        metadata.setdefault(key, []).append(value)
    return total, int(size), metadata


def parse_dict(text: str, what: str) -> dict:
    return filtering.parse_dict(text, what)


def page(db: Session, stmt, model, columns: dict, query, marker_error) -> tuple[list, bool]:
    """Cinder's sort (``sort=k:d,…`` or ``sort_key``/``sort_dir``), ``limit``, ``marker`` and ``offset``."""
    pairs = []
    if query.get("sort"):
        if query.get("sort_key") or query.get("sort_dir"):
            raise BadRequest("The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used with "
                             "the 'sort' parameter.")
        for item in query.get("sort").split(","):
            key, _, direction = item.strip().partition(":")
            pairs.append((SORT_ALIASES.get(key, key), direction or "desc"))
    elif query.get("sort_key") or query.get("sort_dir"):
        key = query.get("sort_key") or "created_at"
        pairs.append((SORT_ALIASES.get(key, key), query.get("sort_dir") or "desc"))
    sort = pagination.parse_sort(pairs, columns, [("created_at", "desc"), ("id", "desc")])
    limit = pagination.parse_limit(query.get("limit"))
    offset = query.get("offset")
    if offset is not None:
        if not str(offset).isdigit():
            raise BadRequest(f"Invalid input received: offset must be a non-negative integer, got {offset!r}.")
    rows = pagination.paginate(db, stmt, model, columns, sort, limit=None if offset else limit,
                               marker=query.get("marker") or None, marker_error=marker_error(query.get("marker")))
    if offset:  # skipped after ordering, in Python: lists here are a project's, small
        rows = rows[int(offset):]
        rows = rows[:limit] if limit is not None else rows
    return rows, limit is not None and limit > 0 and len(rows) == limit


def update(db: Session, volume: Volume, values: dict) -> Volume:
    for field in ("name", "description"):
        if field in values:
            setattr(volume, field, values[field])
    if "metadata" in values:
        set_metadata(db, volume, check_metadata(values["metadata"]), replace=True)
    volume.updated_at = utcnow()
    db.flush()
    return volume


def delete(cloud, db: Session, volume: Volume, *, cascade: bool = False, force: bool = False) -> None:
    snaps = list(db.scalars(sa.select(Snapshot).where(Snapshot.volume_id == volume.id)))
    if not force and (volume.status not in DELETABLE or volume.attachments):
        raise BadRequest("Invalid volume: Volume status must be available or error or error_restoring or "
                         "error_extending or error_managing and must not be migrating, attached, belong to a "
                         "group, have snapshots, awaiting a transfer, or be disassociated from snapshots after "
                         "volume transfer.")
    if snaps and not cascade:
        raise BadRequest("Invalid volume: Volume has snapshots and cannot be deleted (use cascade).")
    for snap in snaps:
        if snap.status not in ("available", "error", "deleting", "error_deleting"):
            raise BadRequest(f"Invalid volume: Snapshot {snap.id} of the volume is {snap.status}; "
                             "it must be available or error to be deleted.")
        snap.status = "deleting"
        snap.updated_at = utcnow()
    volume.status = "deleting"
    volume.updated_at = utcnow()
    db.flush()
    if snaps:
        for snap in snaps:
            after_commit(db, lambda s=snap.id: cloud.workers.submit("volume.snapshot", s))
    else:
        kick(cloud, db, volume.id)


# -- metadata -------------------------------------------------------------------

def metadata(volume: Volume) -> dict:
    return {item.key: item.value for item in volume.metadata_items}


def set_metadata(db: Session, volume: Volume, values: dict, *, replace: bool) -> dict:
    check_metadata(values)
    current = {item.key: item for item in volume.metadata_items}
    for key, item in list(current.items()):
        if replace and key not in values:
            volume.metadata_items.remove(item)
    for key, value in values.items():
        if key in current:
            current[key].value = value
        else:
            volume.metadata_items.append(VolumeMetadata(key=key, value=value))
    volume.updated_at = utcnow()
    db.flush()
    return metadata(volume)


def delete_metadata_item(db: Session, volume: Volume, key: str) -> None:
    for item in volume.metadata_items:
        if item.key == key:
            volume.metadata_items.remove(item)
            volume.updated_at = utcnow()
            db.flush()
            return
    raise NotFound("Metadata item was not found")
