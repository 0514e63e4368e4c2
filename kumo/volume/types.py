"""Volume types: the default ``__DEFAULT__`` type and admin-managed ones with extra specs."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.db import utcnow
from kumo.errors import BadRequest, Conflict, NotFound
from kumo.volume.models import DefaultType, Volume, VolumeType

DEFAULT_NAME = "__DEFAULT__"


def ensure_default(db: Session) -> VolumeType:
    found = db.scalar(sa.select(VolumeType).where(VolumeType.name == DEFAULT_NAME))
    if found is None:
        found = VolumeType(id=str(uuid.uuid4()), name=DEFAULT_NAME, description="Default Volume Type",
                           is_public=True, extra_specs={})
        db.add(found)
        db.flush()
    return found


def default(db: Session, project_id: str | None = None) -> VolumeType:
    """The project's own default type (3.62) if it has one, else ``__DEFAULT__``."""
    if project_id is not None:
        own = db.get(DefaultType, project_id)
        if own is not None:
            return db.get(VolumeType, own.volume_type_id)
    return ensure_default(db)


def get(db: Session, ident: str, project_id: str | None = None) -> VolumeType:
    """By id, or by name as Cinder also accepts; ``default`` names the (project's) default type."""
    if ident == "default":
        return default(db, project_id)
    found = db.get(VolumeType, ident) or db.scalar(sa.select(VolumeType).where(VolumeType.name == ident))
    if found is None:
        raise NotFound(f"Volume type {ident} could not be found.")
    return found


def list_(db: Session, *, include_private: bool, is_public: bool | None = None) -> list[VolumeType]:
    query = sa.select(VolumeType).order_by(VolumeType.name)
    if is_public is not None:
        query = query.where(VolumeType.is_public.is_(is_public))
    elif not include_private:
        query = query.where(VolumeType.is_public.is_(True))
    return list(db.scalars(query))


def create(db: Session, *, name: str, description: str | None, is_public: bool, extra_specs: dict) -> VolumeType:
    if db.scalar(sa.select(VolumeType.id).where(VolumeType.name == name)):
        raise Conflict(f"Volume Type {name} already exists.")
    vtype = VolumeType(id=str(uuid.uuid4()), name=name, description=description, is_public=is_public,
                       extra_specs=dict(extra_specs))
    db.add(vtype)
    db.flush()
    return vtype


def update(db: Session, vtype: VolumeType, values: dict) -> VolumeType:
    if "name" in values and values["name"] != vtype.name:
        if vtype.name == DEFAULT_NAME:
            raise BadRequest("The default volume type cannot be renamed.")
        if db.scalar(sa.select(VolumeType.id).where(VolumeType.name == values["name"])):
            raise Conflict(f"Volume Type {values['name']} already exists.")
        vtype.name = values["name"]
    if "description" in values:
        vtype.description = values["description"]
    if "is_public" in values:
        vtype.is_public = values["is_public"]
    vtype.updated_at = utcnow()
    db.flush()
    return vtype


def delete(db: Session, vtype: VolumeType) -> None:
    if vtype.name == DEFAULT_NAME:
        raise BadRequest("Default volume type can not be deleted.")
    if db.scalar(sa.select(Volume.id).where(Volume.volume_type_id == vtype.id).limit(1)):
        raise BadRequest("Target volume type is still in use.")
    if db.scalar(sa.select(DefaultType.project_id).where(DefaultType.volume_type_id == vtype.id).limit(1)):
        raise BadRequest("Target volume type is still in use: it is a project's default type.")
    db.delete(vtype)
    db.flush()


def set_extra_specs(db: Session, vtype: VolumeType, specs: dict) -> dict:
    vtype.extra_specs = {**vtype.extra_specs, **specs}
    vtype.updated_at = utcnow()
    db.flush()
    return vtype.extra_specs


def delete_extra_spec(db: Session, vtype: VolumeType, key: str) -> None:
    if key not in vtype.extra_specs:
        raise NotFound(f"Volume Type {vtype.id} has no extra specs with key {key}.")
    vtype.extra_specs = {k: v for k, v in vtype.extra_specs.items() if k != key}
    db.flush()


def multiattach(vtype: VolumeType) -> bool:
    """A type whose volumes may be attached to several servers (extra spec ``multiattach="<is> True"``,
    the way from 3.50 on)."""
    return str((vtype.extra_specs or {}).get("multiattach", "")).strip().lower() == "<is> true"
