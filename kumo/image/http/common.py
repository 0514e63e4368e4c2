"""What every image handler shares: the router (Glance's error dialect) and rendering."""

from __future__ import annotations

from datetime import datetime

from kumo.api import errors
from kumo.api.routing import Call, Router
from kumo.image.models import Image, ImageMember

router = Router(errors.glance)

PATCH_TYPES = ("application/openstack-images-v2.1-json-patch", "application/openstack-images-v2.0-json-patch")


def isotime(dt: datetime | None) -> str | None:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt else None


def image(img: Image) -> dict:
    """An image as Glance renders it: extra properties at the top level, nulls kept, locations hidden."""
    body = img.extra
    body.update({
        "id": img.id, "name": img.name, "status": img.status, "visibility": img.visibility,
        "protected": img.protected, "os_hidden": img.os_hidden, "checksum": img.checksum,
        "os_hash_algo": img.os_hash_algo, "os_hash_value": img.os_hash_value, "owner": img.owner,
        "size": img.size, "virtual_size": img.virtual_size, "min_ram": img.min_ram, "min_disk": img.min_disk,
        "disk_format": img.disk_format, "container_format": img.container_format,
        "created_at": isotime(img.created_at), "updated_at": isotime(img.updated_at), "tags": img.tag_list,
        "self": f"/v2/images/{img.id}", "file": f"/v2/images/{img.id}/file", "schema": "/v2/schemas/image",
    })
    return body


def member(m: ImageMember) -> dict:
    return {"image_id": m.image_id, "member_id": m.member_id, "status": m.status,
            "created_at": isotime(m.created_at), "updated_at": isotime(m.updated_at),
            "schema": "/v2/schemas/member"}


def content_type(call: Call) -> str:
    return call.headers.get("content-type", "").split(";")[0].strip().lower()
