"""Nova's deprecated ``/images`` proxy (≤ 2.35): Glance's images as Nova used to show them.

Boots and snapshots go through ``kumo.image.internal``; this read/delete view reads the image
service's own lookups (visibility rules included) so the two never disagree.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.errors import NotFound

STATUS = {"active": "ACTIVE", "queued": "SAVING", "saving": "SAVING", "importing": "SAVING",
          "uploading": "SAVING", "deleted": "DELETED", "pending_delete": "DELETED", "killed": "ERROR",
          "deactivated": "ERROR"}


def get(db: Session, ctx: Context, image_id: str):
    from kumo.image import images

    try:
        return images.visible(db, ctx, image_id)
    except NotFound:
        raise NotFound("Image not found.") from None


def list_(db: Session, ctx: Context, limit: int | None = None, marker: str | None = None) -> list:
    from kumo.image import images
    from kumo.image.models import Image

    query = sa.select(Image).order_by(Image.created_at.desc(), Image.id.desc())
    found, after = [], marker is None
    for image in db.scalars(query):
        if not after:
            after = image.id == marker
            continue
        if image.status in ("deleted", "pending_delete") or not images.can_see(db, ctx, image):
            continue
        found.append(image)
        if limit is not None and len(found) >= limit:
            break
    if marker is not None and not after:
        from kumo.errors import BadRequest
        raise BadRequest(f"marker [{marker}] not found")
    return found


def delete(cloud, db: Session, ctx: Context, image_id: str) -> None:
    from kumo.errors import Forbidden
    from kumo.image import images

    image = get(db, ctx, image_id)
    if not (ctx.is_admin or image.owner == ctx.project_id):
        raise Forbidden("You are not allowed to delete the image.")
    images.delete(cloud, db, image)


def status(image) -> str:
    return STATUS.get(image.status, "UNKNOWN")
