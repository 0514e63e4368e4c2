"""Image members: the projects a ``shared`` image is offered to; each member accepts or rejects it."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.db import utcnow
from kumo.errors import BadRequest, Conflict, Forbidden, NotFound
from kumo.image import schemas
from kumo.image.images import MAX_MEMBERS, OverLimit
from kumo.image.models import Image, ImageMember


def _require_shared(image: Image) -> None:
    if image.visibility != "shared":
        raise Forbidden("Only shared images have members.")


def not_found(image_id: str, member_id: str) -> NotFound:
    return NotFound(f"Not found any membership for image {image_id} with member {member_id}")


def list_(db: Session, ctx: Context, image: Image) -> list[ImageMember]:
    _require_shared(image)
    query = sa.select(ImageMember).where(ImageMember.image_id == image.id).order_by(ImageMember.created_at)
    if not ctx.is_admin and image.owner != ctx.project_id:  # a member sees only itself
        query = query.where(ImageMember.member_id == (ctx.project_id or ""))
    return list(db.scalars(query))


def get(db: Session, ctx: Context, image: Image, member_id: str) -> ImageMember:
    _require_shared(image)
    member = db.get(ImageMember, (image.id, member_id))
    if member is None or not (ctx.is_admin or image.owner == ctx.project_id or member_id == ctx.project_id):
        raise not_found(image.id, member_id)
    return member


def add(db: Session, image: Image, member_id) -> ImageMember:
    if not isinstance(member_id, str) or not member_id or len(member_id) > 255:
        raise BadRequest("Member to be added not specified" if not member_id
                         else "Invalid input for field 'member': must be a string of 1 to 255 characters.")
    _require_shared(image)
    if db.get(ImageMember, (image.id, member_id)) is not None:
        raise Conflict(f"Member {member_id} is duplicated for image {image.id}")
    count = db.scalar(sa.select(sa.func.count()).select_from(ImageMember).where(ImageMember.image_id == image.id))
    if count >= MAX_MEMBERS:
        raise OverLimit(f"Maximum number of image members ({MAX_MEMBERS}) exceeded.")
    now = utcnow()
    member = ImageMember(image_id=image.id, member_id=member_id, status="pending", created_at=now, updated_at=now)
    db.add(member)
    db.flush()
    return member


def set_status(db: Session, member: ImageMember, status) -> ImageMember:
    if status not in schemas.MEMBER_STATUSES:
        raise BadRequest(f"Invalid status: {status!r}: must be one of {', '.join(schemas.MEMBER_STATUSES)}.")
    member.status, member.updated_at = status, utcnow()
    db.flush()
    return member


def delete(db: Session, member: ImageMember) -> None:
    db.delete(member)
    db.flush()
