"""Images: who sees them, create, update (JSON-patch), delete, tags, deactivate/reactivate.

Pure service logic over the store; the HTTP layer parses and renders. An image
the caller cannot see is a 404 (``visible``); one it sees but may not change
is a 403 (policy, in the HTTP layer, or here for rules that depend on the change).
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.api import validation
from kumo.context import Context
from kumo.db import after_commit, utcnow
from kumo.errors import BadRequest, Conflict, Forbidden, KumoError, NotFound
from kumo.image import schemas
from kumo.image.models import Image, ImageMember, ImageProperty, ImageTag
from kumo.image.policies import policy

MAX_TAGS = 128  # Glance's image_tag_quota
MAX_PROPERTIES = 128  # Glance's image_property_quota
MAX_MEMBERS = 128  # Glance's image_member_quota
# the attributes every image has; anything else in a body is an extra property
BASE = {"id", "name", "status", "visibility", "protected", "os_hidden", "checksum", "os_hash_algo",
        "os_hash_value", "owner", "size", "virtual_size", "container_format", "disk_format", "created_at",
        "updated_at", "tags", "direct_url", "min_ram", "min_disk", "self", "file", "stores", "schema",
        "locations"}
WRITABLE = ("name", "visibility", "protected", "os_hidden", "owner", "container_format", "disk_format",
            "min_ram", "min_disk")


class OverLimit(KumoError):
    status = 413
    title = "Request Entity Too Large"
    kind = "OverLimit"


def not_found(image_id: str) -> NotFound:
    return NotFound(f"No image found with ID {image_id}")


def get(db: Session, image_id: str, for_update: bool = False) -> Image:
    query = sa.select(Image).where(Image.id == image_id)
    if for_update:
        query = query.with_for_update()
    image = db.scalars(query).first()
    if image is None:
        raise not_found(image_id)
    return image


def is_member(db: Session, image_id: str, project_id: str | None) -> bool:
    if not project_id:
        return False
    return db.get(ImageMember, (image_id, project_id)) is not None


def can_see(db: Session, ctx: Context | None, image: Image, project_id: str | None = None) -> bool:
    """Glance's visibility: admin, owner, public, community, or a member of a shared image (any status)."""
    if ctx is not None and ctx.is_admin:
        return True
    project_id = ctx.project_id if ctx is not None else project_id
    if image.visibility in ("public", "community"):
        return True
    if project_id and image.owner == project_id:
        return True
    return image.visibility == "shared" and is_member(db, image.id, project_id)


def visible(db: Session, ctx: Context, image_id: str, for_update: bool = False) -> Image:
    image = get(db, image_id, for_update)
    if not can_see(db, ctx, image):
        raise not_found(image_id)
    return image


def target(image: Image, **extra) -> dict:
    return {"project_id": image.owner, "visibility": image.visibility, **extra}


# -- create
def _check_keys(keys, verb: str = "") -> None:
    for key in keys:
        if key in schemas.READ_ONLY:
            raise Forbidden(f"Attribute '{key}' is read-only.")
        if key in schemas.RESERVED or key.startswith(schemas.RESERVED_PREFIX):
            raise Forbidden(f"Attribute '{key}' is reserved.")


def _check_visibility_change(ctx: Context, image_owner: str | None, visibility: str) -> None:
    if visibility == "public":
        policy.enforce(ctx, "image:publicize_image", {"project_id": image_owner})
    elif visibility == "community":
        policy.enforce(ctx, "image:communitize_image", {"project_id": image_owner})


def _validate(view: dict) -> None:
    validation.check(view, schemas.VALIDATOR, "image")
    extra = {k: v for k, v in view.items() if k not in BASE}
    if len(extra) > MAX_PROPERTIES:
        raise OverLimit(f"Maximum number of image properties ({MAX_PROPERTIES}) exceeded.")
    for key in extra:
        if not key or len(key) > 255:
            raise BadRequest(f"Invalid property name '{key[:300]}': must be 1 to 255 characters.")
    if len(view.get("tags") or []) > MAX_TAGS:
        raise OverLimit(f"Maximum number of image tags ({MAX_TAGS}) exceeded.")


def _unique(tags):
    """Tags without repeats (Glance keeps a set), when they are strings; anything else is left for the
    schema to refuse."""
    if isinstance(tags, list) and all(isinstance(t, str) for t in tags):
        return list(dict.fromkeys(tags))
    return tags


def create(db: Session, ctx: Context, body: dict) -> Image:
    """POST /v2/images, as Glance: read-only and reserved attributes are refused (403), the rest checked
    against the image schema (400); extra properties are strings."""
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object.")
    _check_keys(k for k in body if k != "id")
    view = dict(body)
    view.setdefault("visibility", "shared")
    view["tags"] = _unique(body.get("tags", []))
    _validate(view)
    owner = view.get("owner") or ctx.project_id
    if owner != ctx.project_id:
        policy.enforce(ctx, "image:set_owner", {"project_id": owner})
    policy.enforce(ctx, "image:add_image", {"project_id": owner})
    _check_visibility_change(ctx, owner, view["visibility"])
    image_id = view.get("id") or str(uuid.uuid4())
    if db.get(Image, image_id) is not None:
        raise Conflict(f"Image with identifier {image_id} already exists!")
    return insert(db, image_id=image_id, owner=owner, view=view)


def insert(db: Session, *, image_id: str, owner: str | None, view: dict) -> Image:
    now = utcnow()
    image = Image(id=image_id, owner=owner, status="queued", created_at=now, updated_at=now,
                  **{k: view[k] for k in WRITABLE if k in view and k != "owner"})
    image.properties = [ImageProperty(name=k, value=v) for k, v in view.items() if k not in BASE]
    image.tags = [ImageTag(value=t, created_at=now) for t in view.get("tags") or []]
    db.add(image)
    db.flush()
    return image


# -- update (JSON-patch, both of Glance's dialects)
def parse_patch(body) -> list[dict]:
    """``[{"op": "replace", "path": "/name", "value": …}]`` (v2.1) or ``[{"replace": "/name", "value": …}]``
    (v2.0) → ``[{"op", "name", "value", "strict_add"}]``."""
    if not isinstance(body, list):
        raise BadRequest("Request body must be a JSON array of operation objects.")
    changes = []
    for raw in body:
        if not isinstance(raw, dict):
            raise BadRequest("Operations must be JSON objects.")
        if "op" in raw:
            op, path, strict_add = raw["op"], raw.get("path"), False
        else:
            ops = [k for k in ("add", "remove", "replace") if k in raw]
            if len(ops) != 1:
                raise BadRequest("Unable to find `op` in JSON Schema change. It must be one of the following: "
                                 "add, remove, replace.")
            op, path, strict_add = ops[0], raw[ops[0]], True
        if op not in ("add", "remove", "replace"):
            raise BadRequest(f"Invalid operation: `{op}`. It must be one of the following: add, remove, replace.")
        if not isinstance(path, str):
            raise BadRequest("Unable to find `path` in JSON Schema change." if path is None
                             else f"Pointer `{path}` does not start with \"/\".")
        if not path.startswith("/"):
            raise BadRequest(f"Pointer `{path}` does not start with \"/\".")
        parts = path[1:].split("/")
        if len(parts) > 1 and parts[0] != "locations":
            raise BadRequest("Nested paths are not allowed")
        name = parts[0].replace("~1", "/").replace("~0", "~")
        if not name:
            raise BadRequest(f"Pointer `{path}` contains adjacent \"/\".")
        if op != "remove" and "value" not in raw:
            raise BadRequest(f'Operation "{op}" requires a member named "value".')
        if name == "locations":
            raise Forbidden("It's not allowed to add or update locations if locations are invisible.")
        _check_keys([name])
        changes.append({"op": op, "name": name, "value": raw.get("value"), "strict_add": strict_add})
    return changes


def _view(image: Image) -> dict:
    view = {k: getattr(image, k) for k in WRITABLE}
    view["tags"] = image.tag_list
    view.update(image.extra)
    return view


def update(db: Session, ctx: Context, image: Image, changes: list[dict]) -> Image:
    before = _view(image)
    view = dict(before)
    for change in changes:
        name, op = change["name"], change["op"]
        base = name in BASE
        if op == "remove":
            if base:
                raise Forbidden(f"Property {name} may not be removed.")
            if name not in view:
                raise Conflict(f"Property {name} does not exist.")
            del view[name]
            continue
        if op == "replace" and not base and name not in view:
            raise Conflict(f"Property {name} does not exist.")
        if op == "add" and change["strict_add"] and name in view and (not base or view[name] is not None):
            raise Conflict(f"Property {name} already present.")
        view[name] = change["value"]
    view["tags"] = _unique(view.get("tags"))
    for key in ("visibility", "protected", "os_hidden", "min_ram", "min_disk"):
        if view.get(key) is None:  # base attributes Glance never lets be null
            raise BadRequest(f"Invalid input for field '{key}': None is not valid.")
    _validate(view)
    for key in ("container_format", "disk_format"):
        if view[key] != before[key] and image.status != "queued":
            raise Forbidden(f"Attribute {key} can be only replaced for a queued image.")
    if view["owner"] != before["owner"]:
        policy.enforce(ctx, "image:set_owner", target(image))
    if view["visibility"] != before["visibility"]:
        _check_visibility_change(ctx, image.owner, view["visibility"])
    for key in WRITABLE:
        if view[key] != before[key]:
            setattr(image, key, view[key])
    extra = {k: v for k, v in view.items() if k not in BASE}
    if extra != image.extra:
        image.properties = [p for p in image.properties if p.name in extra and p.value == extra[p.name]]
        have = {p.name for p in image.properties}
        db.flush()
        image.properties += [ImageProperty(name=k, value=v) for k, v in extra.items() if k not in have]
    if view["tags"] != before["tags"]:
        _set_tags(db, image, view["tags"])
    image.updated_at = utcnow()
    db.flush()
    return image


def _set_tags(db: Session, image: Image, tags: list[str]) -> None:
    now = utcnow()
    keep = [t for t in image.tags if t.value in tags]
    image.tags = keep
    db.flush()
    have = {t.value for t in keep}
    image.tags += [ImageTag(value=t, created_at=now) for t in tags if t not in have]


# -- tags
def add_tag(db: Session, image: Image, tag: str) -> None:
    validation.check(tag, schemas.IMAGE["properties"]["tags"]["items"], "tag")
    if tag in image.tag_list:
        return
    if len(image.tags) >= MAX_TAGS:
        raise OverLimit(f"Attempted to add more tags than allowed: maximum is {MAX_TAGS}.")
    image.tags.append(ImageTag(value=tag, created_at=utcnow()))
    image.updated_at = utcnow()
    db.flush()


def delete_tag(db: Session, image: Image, tag: str) -> None:
    if tag not in image.tag_list:
        raise NotFound(f"Tag {tag} not found.")
    image.tags = [t for t in image.tags if t.value != tag]
    image.updated_at = utcnow()
    db.flush()


# -- delete, deactivate, reactivate
def delete(cloud, db: Session, image: Image) -> None:
    if image.protected:
        raise Forbidden(f"Image {image.id} is protected and cannot be deleted.")
    location = image.location
    db.delete(image)
    db.flush()
    if location:
        from kumo.image import data

        after_commit(db, lambda: data.discard(cloud, location))


def deactivate(db: Session, image: Image) -> None:
    if image.status == "deactivated":
        return
    if image.status != "active":
        raise Forbidden(f"Not allowed to deactivate image in status '{image.status}'")
    image.status, image.updated_at = "deactivated", utcnow()


def reactivate(db: Session, image: Image) -> None:
    if image.status == "active":
        return
    if image.status != "deactivated":
        raise Forbidden(f"Not allowed to reactivate image in status '{image.status}'")
    image.status, image.updated_at = "active", utcnow()
