"""``/v2.1/images`` (the image proxy, deprecated and gone from 2.36 on)."""

from __future__ import annotations

from kumo.api.routing import Call, Reply
from kumo.compute import images
from kumo.compute.http.common import (
    at_least,
    base,
    int_query,
    isotime,
    next_link,
    router,
)
from kumo.compute.policies import policy
from kumo.errors import NotFound


def _check(call: Call) -> None:
    if at_least(call, 36):
        raise NotFound("The resource could not be found.")
    policy.enforce(call.ctx, "os_compute_api:images", {})


def _links(call: Call, image_id: str) -> list[dict]:
    return [{"rel": "self", "href": f"{base(call)}/v2.1/images/{image_id}"},
            {"rel": "bookmark", "href": f"{base(call)}/images/{image_id}"},
            {"rel": "alternate", "type": "application/vnd.openstack.image",
             "href": f"{call.cloud.settings.base_url}/image/images/{image_id}"}]


def _image(call: Call, image, detail: bool = True) -> dict:
    body = {"id": image.id, "name": image.name, "links": _links(call, image.id)}
    if not detail:
        return body
    extra = dict(image.extra)
    status = images.status(image)
    body.update({"status": status, "created": isotime(image.created_at), "updated": isotime(image.updated_at),
                 "minDisk": image.min_disk or 0, "minRam": image.min_ram or 0,
                 "progress": {"ACTIVE": 100, "SAVING": 25}.get(status, 0), "metadata": extra,
                 "OS-EXT-IMG-SIZE:size": image.size, "OS-DCF:diskConfig": "MANUAL"})
    if extra.get("instance_uuid"):
        server_id = extra["instance_uuid"]
        body["server"] = {"id": server_id, "links": [
            {"rel": "self", "href": f"{base(call)}/v2.1/servers/{server_id}"},
            {"rel": "bookmark", "href": f"{base(call)}/servers/{server_id}"}]}
    return body


def _list(call: Call, detail: bool):
    _check(call)
    limit = int_query(call, "limit")
    found = images.list_(call.db, call.ctx, limit, call.query.get("marker"))
    body = {"images": [_image(call, i, detail) for i in found]}
    if limit is not None and found and len(found) >= limit:
        body["images_links"] = next_link(call, "images/detail" if detail else "images", found[-1].id)
    return body


@router.get("/v2.1/images")
def list_images(call: Call):
    return _list(call, False)


@router.get("/v2.1/images/detail")
def list_images_detail(call: Call):
    return _list(call, True)


@router.get("/v2.1/images/{image_id}")
def show_image(call: Call):
    _check(call)
    return {"image": _image(call, images.get(call.db, call.ctx, call.params["image_id"]))}


@router.delete("/v2.1/images/{image_id}")
def delete_image(call: Call):
    _check(call)
    images.delete(call.cloud, call.db, call.ctx, call.params["image_id"])
    return Reply(None, status=204)
