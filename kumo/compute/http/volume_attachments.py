"""``/v2.1/servers/{id}/os-volume_attachments``."""

from __future__ import annotations

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.compute import attachments, servers
from kumo.compute.http.common import at_least, find_server, only_between, router

UUID = {"type": "string", "pattern": r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                                     r"[0-9a-fA-F]{12}$"}
ATTACH = {"type": "object", "required": ["volumeAttachment"], "properties": {"volumeAttachment": {
    "type": "object", "required": ["volumeId"], "additionalProperties": False, "properties": {
        "volumeId": UUID, "device": {"type": ["string", "null"], "pattern": "^/dev/[a-zA-Z0-9]+$"},
        "tag": {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[^,/]*$"},
        "delete_on_termination": {"type": "boolean"}}}}}


def _shown(call: Call, row) -> dict:
    shown = {"id": row.volume_id, "volumeId": row.volume_id, "serverId": row.server_id, "device": row.device}
    if at_least(call, 70):
        shown["tag"] = row.tag
    if at_least(call, 79):
        shown["delete_on_termination"] = bool(row.delete_on_termination)
    return shown


@router.get("/v2.1/servers/{server_id}/os-volume_attachments")
def list_attachments(call: Call):
    server = find_server(call, "os_compute_api:os-volumes-attachments:index")
    return {"volumeAttachments": [_shown(call, r) for r in servers.attachments(call.db, server.id)
                                  if r.state != "attaching"]}


@router.get("/v2.1/servers/{server_id}/os-volume_attachments/{volume_id}")
def show_attachment(call: Call):
    server = find_server(call, "os_compute_api:os-volumes-attachments:index")
    return {"volumeAttachment": _shown(call, attachments.get(call.db, server.id, call.params["volume_id"]))}


@router.post("/v2.1/servers/{server_id}/os-volume_attachments")
def attach_volume(call: Call):
    body = v.check(call.body, ATTACH)["volumeAttachment"]
    only_between(call, body, "tag", "volumeAttachment", 49)
    only_between(call, body, "delete_on_termination", "volumeAttachment", 79)
    server = find_server(call, "os_compute_api:os-volumes-attachments:create", write=True)
    row = attachments.attach(call.cloud, call.db, call.ctx, server, body["volumeId"], body.get("device"),
                             multiattach_ok=at_least(call, 60), tag=body.get("tag"),
                             delete_on_termination=body.get("delete_on_termination", False))
    return {"volumeAttachment": _shown(call, row)}


UPDATE = {"type": "object", "required": ["volumeAttachment"], "properties": {"volumeAttachment": {
    "type": "object", "required": ["volumeId"], "additionalProperties": False, "properties": {
        "volumeId": UUID}}}}
# 2.85: the whole attachment may be sent back; only delete_on_termination may differ
UPDATE_285 = {"type": "object", "required": ["volumeAttachment"], "properties": {"volumeAttachment": {
    "type": "object", "required": ["volumeId"], "additionalProperties": False, "properties": {
        "volumeId": UUID, "id": UUID, "serverId": UUID,
        "device": {"type": ["string", "null"], "pattern": "^/dev/[a-zA-Z0-9]+$"},
        "tag": {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[^,/]*$"},
        "delete_on_termination": {"type": "boolean"}}}}}


@router.put("/v2.1/servers/{server_id}/os-volume_attachments/{volume_id}")
def update_attachment(call: Call):
    """Before 2.85 Nova's swap (admin only); from 2.85 also an owner's change of ``delete_on_termination``."""
    body = v.check(call.body, UPDATE_285 if at_least(call, 85) else UPDATE)["volumeAttachment"]
    volume_id = call.params["volume_id"]
    swap = body["volumeId"] != volume_id
    server = find_server(call, "os_compute_api:os-volumes-attachments:swap" if swap
                         else "os_compute_api:os-volumes-attachments:update", write=True)
    changes = {k: val for k, val in body.items() if k != "volumeId"}
    attachments.update(call.db, call.ctx, server, volume_id, new_volume_id=body["volumeId"], changes=changes)
    return Reply(None, status=202)


@router.delete("/v2.1/servers/{server_id}/os-volume_attachments/{volume_id}")
def detach_volume(call: Call):
    server = find_server(call, "os_compute_api:os-volumes-attachments:delete", write=True)
    attachments.detach(call.cloud, call.db, call.ctx, server, call.params["volume_id"])
    return Reply(None, status=202)
