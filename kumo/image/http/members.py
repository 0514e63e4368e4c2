"""``/v2/images/{image_id}/members``: share an image with projects; each member accepts or rejects it."""

from __future__ import annotations

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.image import images, members
from kumo.image.http.common import member, router
from kumo.image.policies import policy

CREATE = {"type": "object", "required": ["member"], "properties": {"member": {"type": "string"}}}
UPDATE = {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}


def _image(call: Call, for_update: bool = False):
    return images.visible(call.db, call.ctx, call.params["image_id"], for_update)


@router.get("/v2/images/{image_id}/members")
def list_members(call: Call):
    img = _image(call)
    policy.enforce(call.ctx, "image:get_members", images.target(img, member_id=call.ctx.project_id))
    return {"members": [member(m) for m in members.list_(call.db, call.ctx, img)],
            "schema": "/v2/schemas/members"}


@router.post("/v2/images/{image_id}/members")
def add_member(call: Call):
    body = v.check(call.body, CREATE)
    img = _image(call, for_update=True)
    policy.enforce(call.ctx, "image:add_member", images.target(img))
    return member(members.add(call.db, img, body["member"]))


@router.get("/v2/images/{image_id}/members/{member_id}")
def show_member(call: Call):
    img = _image(call)
    found = members.get(call.db, call.ctx, img, call.params["member_id"])
    policy.enforce(call.ctx, "image:get_member", images.target(img, member_id=found.member_id))
    return member(found)


@router.put("/v2/images/{image_id}/members/{member_id}")
def update_member(call: Call):
    body = v.check(call.body, UPDATE)
    img = _image(call, for_update=True)
    found = members.get(call.db, call.ctx, img, call.params["member_id"])
    policy.enforce(call.ctx, "image:modify_member", images.target(img, member_id=found.member_id))
    return member(members.set_status(call.db, found, body["status"]))


@router.delete("/v2/images/{image_id}/members/{member_id}")
def delete_member(call: Call):
    img = _image(call, for_update=True)
    found = members.get(call.db, call.ctx, img, call.params["member_id"])
    policy.enforce(call.ctx, "image:delete_member", images.target(img))
    members.delete(call.db, found)
    return Reply(status=204)
