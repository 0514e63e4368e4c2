"""Projects' default volume types (Cinder's default-types API, microversion 3.62): a volume created
without a type in such a project gets it; ``GET types/default`` names it."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.db import utcnow
from kumo.errors import NotFound
from kumo.volume import types
from kumo.volume.models import DefaultType


def get(db: Session, project_id: str) -> DefaultType:
    found = db.get(DefaultType, project_id)
    if found is None:
        raise NotFound(f"Default type for project {project_id} could not be found.")
    return found


def list_(db: Session) -> list[DefaultType]:
    return list(db.scalars(sa.select(DefaultType).order_by(DefaultType.project_id)))


def set_(db: Session, project_id: str, volume_type: str) -> DefaultType:
    """The project's default type, by the type's name or id (created or replaced)."""
    vtype = types.get(db, volume_type)
    found = db.get(DefaultType, project_id, with_for_update=True)
    if found is None:
        found = DefaultType(project_id=project_id, volume_type_id=vtype.id, created_at=utcnow())
        db.add(found)
    else:
        found.volume_type_id = vtype.id
        found.updated_at = utcnow()
    db.flush()
    return found


def unset(db: Session, project_id: str) -> None:
    db.delete(get(db, project_id))
    db.flush()
