"""``/v3/{project_id}/attachments`` (microversion 3.27+; ``os-complete`` 3.44+, ``mode`` 3.54+)."""

from __future__ import annotations

from kumo.api.routing import Call, Reply
from kumo.errors import BadRequest
from kumo.volume import attachments
from kumo.volume.http import render
from kumo.volume.http.common import (
    at_least,
    filter_rules,
    next_link,
    project,
    require,
    router,
    scope,
)
from kumo.volume.policies import policy

NEW_ATTACH = "3.27"


def _body(call: Call) -> dict:
    if not isinstance(call.body, dict) or not isinstance(call.body.get("attachment"), dict):
        raise BadRequest("Missing required element 'attachment' in request body.")
    return call.body["attachment"]


def _attachment(call: Call, action: str, lock: bool = False):
    require(call, NEW_ATTACH)
    project(call)
    att, volume = attachments.get(call.db, call.ctx, call.params["attachment_id"], lock=lock)
    policy.enforce(call.ctx, action, {"project_id": volume.project_id})
    return att, volume


@router.post("/v3/{project_id}/attachments")
def create_attachment(call: Call):
    require(call, NEW_ATTACH)
    project_id = project(call)
    policy.enforce(call.ctx, "attachment:create", {"project_id": project_id})
    body = _body(call)
    if not body.get("instance_uuid"):
        raise BadRequest("Must specify 'instance_uuid' to create attachment.")
    if not body.get("volume_uuid"):
        raise BadRequest("Must specify 'volume_uuid' to create attachment.")
    mode = "rw"
    if at_least(call, "3.54") and body.get("mode") is not None:
        mode = body["mode"]
    att, volume = attachments.create(call.db, call.ctx, volume_id=body["volume_uuid"],
                                     instance_uuid=body["instance_uuid"], connector=body.get("connector"), mode=mode)
    return {"attachment": render.attachment(att, volume.id)}


def _list(call: Call, detail: bool):
    require(call, NEW_ATTACH)
    project_id = project(call)
    policy.enforce(call.ctx, "attachment:get", {"project_id": project_id})
    rows, more = attachments.list_(call.db, scope(call, project_id), call.query, rules=filter_rules(call),
                                   admin=policy.check(call.ctx, "volume:admin_action"))
    body = {"attachments": [render.attachment(row, row.volume_id, detail=detail) for row in rows]}
    if more:
        body["attachments_links"] = next_link(call, project_id, "attachments/detail" if detail else "attachments",
                                              rows[-1].id)
    return body


@router.get("/v3/{project_id}/attachments")
def list_attachments(call: Call):
    return _list(call, detail=False)


@router.get("/v3/{project_id}/attachments/detail")
def list_attachments_detail(call: Call):
    return _list(call, detail=True)


@router.get("/v3/{project_id}/attachments/{attachment_id}")
def show_attachment(call: Call):
    att, volume = _attachment(call, "attachment:get")
    return {"attachment": render.attachment(att, volume.id)}


@router.put("/v3/{project_id}/attachments/{attachment_id}")
def update_attachment(call: Call):
    body = _body(call)
    if not body.get("connector"):
        raise BadRequest("Must specify 'connector' to update attachment.")
    att, volume = _attachment(call, "attachment:update", lock=True)
    attachments.update(call.db, att, volume, body["connector"])
    return {"attachment": render.attachment(att, volume.id)}


@router.delete("/v3/{project_id}/attachments/{attachment_id}")
def delete_attachment(call: Call):
    att, volume = _attachment(call, "attachment:delete", lock=True)
    left = attachments.delete(call.db, att, volume)
    return {"attachments": [render.attachment(a, volume.id, detail=False) for a in left]}


@router.post("/v3/{project_id}/attachments/{attachment_id}/action")
def attachment_action(call: Call):
    require(call, NEW_ATTACH)
    if not isinstance(call.body, dict) or "os-complete" not in call.body:
        raise BadRequest(f"There is no such action: {', '.join(call.body or {}) if isinstance(call.body, dict) else ''}")
    require(call, "3.44")
    att, volume = _attachment(call, "attachment:complete", lock=True)
    attachments.complete(call.db, att, volume)
    return Reply(None, status=204)
