"""``GET /v2/images``: Glance's visibility rules, filters, sorting and marker pagination.

Pagination is keyset-based over the sort keys (``id`` always last, as tie-break);
nullable sort columns are compared through ``coalesce`` so the order is the same
on every database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.db import filters as db_filters
from kumo.errors import BadRequest
from kumo.image import images, schemas
from kumo.image.models import Image, ImageMember, ImageProperty, ImageTag

DEFAULT_LIMIT = 25  # Glance's limit_param_default
MAX_LIMIT = 1000  # Glance's api_limit_max
SORT_KEYS = ("created_at", "updated_at", "id", "name", "size", "virtual_size", "disk_format", "container_format",
             "status", "min_disk", "min_ram", "owner", "visibility")
CONTROL = {"limit", "marker", "sort", "sort_key", "sort_dir", "member_status", "visibility", "tag", "size_min",
           "size_max", "protected", "os_hidden"}
STRING_COLUMNS = ("id", "name", "status", "container_format", "disk_format", "owner", "checksum",
                  "os_hash_value", "os_hash_algo")
INT_COLUMNS = ("size", "virtual_size", "min_disk", "min_ram")
TIME_COLUMNS = ("created_at", "updated_at")
TIME_OPS = {"gt": "__gt__", "gte": "__ge__", "lt": "__lt__", "lte": "__le__", "eq": "__eq__", "neq": "__ne__"}
_NULL_AS = {"name": "", "size": -1, "virtual_size": -1, "disk_format": "", "container_format": "", "owner": ""}


@dataclass
class Page:
    images: list[Image]
    next_marker: str | None
    params: list[tuple[str, str]] = field(default_factory=list)


def _int(name: str, value: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"Invalid value '{value}' for parameter '{name}': must be an integer.") from None


def _bool(name: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise BadRequest(f"Invalid value '{value}' for '{name}' filter. Valid values are 'true' or 'false'.")
    return value.lower() == "true"


def _sort(query) -> tuple[list[str], list[str]]:
    sort = query.get("sort")
    keys, dirs = [], []
    if sort is not None:
        if query.getlist("sort_key") or query.getlist("sort_dir"):
            raise BadRequest("The 'sort' param cannot be combined with 'sort_key' or 'sort_dir'.")
        for item in sort.split(","):
            key, _, direction = item.strip().partition(":")
            keys.append(key.strip())
            dirs.append(direction.strip() or "desc")
    else:
        keys = query.getlist("sort_key") or ["created_at"]
        dirs = query.getlist("sort_dir") or ["desc"]
        if len(dirs) == 1:
            dirs = dirs * len(keys)
        elif len(dirs) != len(keys):
            raise BadRequest("Number of sort dirs does not match the number of sort keys")
    for key in keys:
        if key not in SORT_KEYS:
            raise BadRequest(f"Invalid sort key: {key}. It must be one of the following: {', '.join(SORT_KEYS)}.")
    for direction in dirs:
        if direction not in ("asc", "desc"):
            raise BadRequest(f"Invalid sort direction: {direction}")
    if "id" not in keys:
        keys, dirs = keys + ["id"], dirs + [dirs[-1]]
    return keys, dirs


def _expr(key: str):
    column = getattr(Image, key)
    return sa.func.coalesce(column, _NULL_AS[key]) if key in _NULL_AS else column


def _value(image: Image, key: str):
    value = getattr(image, key)
    return _NULL_AS.get(key) if value is None else value


def _in_values(text: str) -> list[str]:
    return [v.strip().strip('"') for v in text.split(",")]


def _visibility(ctx: Context, visibility: str | None, member_status: str):
    project = ctx.project_id
    member = sa.select(ImageMember.image_id).where(ImageMember.image_id == Image.id,
                                                   ImageMember.member_id == (project or ""))
    if member_status != "all":
        member = member.where(ImageMember.status == member_status)
    shared_with_me = sa.and_(Image.visibility == "shared", member.exists())
    mine = Image.owner == project if project else sa.false()
    if ctx.is_admin:
        return sa.true() if visibility in (None, "all") else Image.visibility == visibility
    default = sa.or_(mine, Image.visibility == "public", shared_with_me)
    return {None: default, "all": sa.or_(default, Image.visibility == "community"),
            "public": Image.visibility == "public", "community": Image.visibility == "community",
            "private": sa.and_(Image.visibility == "private", mine),
            "shared": sa.and_(Image.visibility == "shared", sa.or_(mine, shared_with_me))}[visibility]


def list_(db: Session, ctx: Context, query) -> Page:
    visibility = query.get("visibility")
    if visibility is not None and visibility not in schemas.VISIBILITIES + ["all"]:
        raise BadRequest(f"Invalid visibility value: {visibility}")
    member_status = query.get("member_status", "accepted")
    if member_status not in schemas.MEMBER_STATUSES + ["all"]:
        raise BadRequest(f"Invalid status value: {member_status}")
    limit = _int("limit", query.get("limit", DEFAULT_LIMIT))
    if limit < 0:
        raise BadRequest("limit param must be positive")
    limit = min(limit, MAX_LIMIT)
    keys, dirs = _sort(query)

    stmt = sa.select(Image).where(_visibility(ctx, visibility, member_status))
    equal = {}
    for key, value in query.multi_items():
        if key in CONTROL:
            continue
        if key in STRING_COLUMNS:
            if value.startswith("in:"):
                stmt = stmt.where(getattr(Image, key).in_(_in_values(value[3:])))
            else:
                if key == "status" and value not in schemas.STATUSES:
                    raise BadRequest(f"Invalid status value: {value}")
                equal[key] = value
        elif key in INT_COLUMNS:
            stmt = stmt.where(getattr(Image, key) == _int(key, value))
        elif key in TIME_COLUMNS:
            stmt = stmt.where(_time_filter(key, value))
        else:  # an extra property
            stmt = stmt.where(sa.select(ImageProperty.image_id).where(
                ImageProperty.image_id == Image.id, ImageProperty.name == key,
                ImageProperty.value == value).exists())
    if "protected" in query:
        equal["protected"] = str(_bool("protected", query["protected"]))
    equal["os_hidden"] = str(_bool("os_hidden", query.get("os_hidden", "false")))
    stmt = db_filters.apply(stmt, {k: getattr(Image, k) for k in equal}, equal)
    for name, bound in (("size_min", Image.size.__ge__), ("size_max", Image.size.__le__)):
        if name in query:
            stmt = stmt.where(bound(_int(name, query[name])))
    for tag in query.getlist("tag"):
        stmt = stmt.where(sa.select(ImageTag.image_id).where(ImageTag.image_id == Image.id,
                                                             ImageTag.value == tag).exists())
    marker = query.get("marker")
    if marker is not None:
        stmt = stmt.where(_after(db, ctx, marker, keys, dirs))
    order = [(_expr(k).asc() if d == "asc" else _expr(k).desc()) for k, d in zip(keys, dirs)]
    found = list(db.scalars(stmt.order_by(*order).limit(limit)))
    next_marker = found[-1].id if found and len(found) == limit else None
    return Page(found, next_marker, [(k, v) for k, v in query.multi_items() if k != "marker"])


def _after(db: Session, ctx: Context, marker: str, keys: list[str], dirs: list[str]):
    """Rows strictly after the marker image in the requested order."""
    image = db.get(Image, marker)
    if image is None or not images.can_see(db, ctx, image):
        raise BadRequest(f"Invalid marker. Image {marker} could not be found.")
    clauses = []
    for i, (key, direction) in enumerate(zip(keys, dirs)):
        equal = [_expr(k) == _value(image, k) for k in keys[:i]]
        beyond = _expr(key) > _value(image, key) if direction == "asc" else _expr(key) < _value(image, key)
        clauses.append(sa.and_(*equal, beyond))
    return sa.or_(*clauses)


def _time_filter(key: str, value: str):
    op, _, when = value.partition(":")
    if op not in TIME_OPS or not when:
        op, when = "eq", value
    try:
        moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"Invalid value '{value}' for '{key}': not an ISO 8601 date and time.") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return getattr(getattr(Image, key), TIME_OPS[op])(moment)
