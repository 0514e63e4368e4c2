"""``/v2/images``: create, list, show, update (JSON-patch), delete, data, tags, deactivate/reactivate."""

from __future__ import annotations

from urllib.parse import urlencode

from kumo.api.routing import Call, Reply
from kumo.errors import UnsupportedMediaType
from kumo.image import data, images, listing
from kumo.image.http.common import PATCH_TYPES, content_type, image, router
from kumo.image.policies import policy


def _visible(call: Call, action: str, for_update: bool = False):
    img = images.visible(call.db, call.ctx, call.params["image_id"], for_update)
    policy.enforce(call.ctx, action, images.target(img))
    return img


@router.post("/v2/images")
def create_image(call: Call):
    img = images.create(call.db, call.ctx, call.body if call.body is not None else {})
    return Reply(image(img), status=201, headers={"Location": f"/v2/images/{img.id}"})


@router.get("/v2/images")
def list_images(call: Call):
    policy.enforce(call.ctx, "image:get_images")
    page = listing.list_(call.db, call.ctx, call.query)
    query = urlencode(page.params)
    body = {"images": [image(i) for i in page.images], "first": "/v2/images" + (f"?{query}" if query else ""),
            "schema": "/v2/schemas/images"}
    if page.next_marker:
        body["next"] = "/v2/images?" + urlencode(page.params + [("marker", page.next_marker)])
    return body


@router.get("/v2/images/{image_id}")
def show_image(call: Call):
    return image(_visible(call, "image:get_image"))


@router.patch("/v2/images/{image_id}")
def update_image(call: Call):
    if content_type(call) not in PATCH_TYPES:
        raise UnsupportedMediaType(f"Unsupported Content-Type: expected one of {', '.join(PATCH_TYPES)}")
    changes = images.parse_patch(call.body)
    img = _visible(call, "image:modify_image", for_update=True)
    return image(images.update(call.db, call.ctx, img, changes))


@router.delete("/v2/images/{image_id}")
def delete_image(call: Call):
    images.delete(call.cloud, call.db, _visible(call, "image:delete_image", for_update=True))
    return Reply(status=204)


@router.put("/v2/images/{image_id}/file", body="stream")
def upload_image(call: Call):
    img = _visible(call, "image:upload_image")
    if content_type(call) != "application/octet-stream":
        raise UnsupportedMediaType("Unsupported Content-Type: image data must be application/octet-stream")
    length = call.headers.get("content-length")
    if length and length.isdigit() and int(length) > data.SIZE_CAP:
        raise images.OverLimit(f"Image exceeds the storage limit of {data.SIZE_CAP} bytes.")
    call.db.rollback()  # no transaction stays open while the bytes flow
    data.begin_upload(call.cloud, img.id)
    data.receive(call.cloud, img.id, call.stream, on_failure="queued")
    return Reply(status=204)


@router.get("/v2/images/{image_id}/file")
def download_image(call: Call):
    img = _visible(call, "image:download_image")
    found = data.download(call.cloud, img, call.ctx.is_admin, call.headers.get("range"))
    if found.chunks is None:
        return Reply(status=204)
    headers = {"Content-Length": str(found.size)}
    if found.checksum:
        headers["Content-MD5"] = found.checksum
    if found.content_range:
        headers["Content-Range"] = found.content_range
    return Reply(found.chunks, status=206 if found.content_range else 200, headers=headers,
                 content_type="application/octet-stream")


@router.put("/v2/images/{image_id}/tags/{tag}", body="none")
def add_tag(call: Call):
    images.add_tag(call.db, _visible(call, "image:modify_image", for_update=True), call.params["tag"])
    return Reply(status=204)


@router.delete("/v2/images/{image_id}/tags/{tag}")
def delete_tag(call: Call):
    images.delete_tag(call.db, _visible(call, "image:modify_image", for_update=True), call.params["tag"])
    return Reply(status=204)


@router.post("/v2/images/{image_id}/actions/deactivate", body="none")
def deactivate(call: Call):
    images.deactivate(call.db, _visible(call, "image:deactivate", for_update=True))
    return Reply(status=204)


@router.post("/v2/images/{image_id}/actions/reactivate", body="none")
def reactivate(call: Call):
    images.reactivate(call.db, _visible(call, "image:reactivate", for_update=True))
    return Reply(status=204)
