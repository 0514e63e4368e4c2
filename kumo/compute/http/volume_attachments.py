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
        "tag": {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[^,/]*$"}}}}}


def _shown(row) -> dict:
    return {"id": row.volume_id, "volumeId": row.volume_id, "serverId": row.server_id, "device": row.device}


@router.get("/v2.1/servers/{server_id}/os-volume_attachments")
def list_attachments(call: Call):
    server = find_server(call, "os_compute_api:os-volumes-attachments:index")
    return {"volumeAttachments": [_shown(r) for r in servers.attachments(call.db, server.id)
                                  if r.state != "attaching"]}


@router.get("/v2.1/servers/{server_id}/os-volume_attachments/{volume_id}")
def show_attachment(call: Call):
    server = find_server(call, "os_compute_api:os-volumes-attachments:index")
    return {"volumeAttachment": _shown(attachments.get(call.db, server.id, call.params["volume_id"]))}


@router.post("/v2.1/servers/{server_id}/os-volume_attachments")
def attach_volume(call: Call):
    body = v.check(call.body, ATTACH)["volumeAttachment"]
    only_between(call, body, "tag", "volumeAttachment", 49)
    server = find_server(call, "os_compute_api:os-volumes-attachments:create", write=True)
    row = attachments.attach(call.cloud, call.db, call.ctx, server, body["volumeId"], body.get("device"),
                             multiattach_ok=at_least(call, 60))
    return {"volumeAttachment": _shown(row)}


@router.delete("/v2.1/servers/{server_id}/os-volume_attachments/{volume_id}")
def detach_volume(call: Call):
    server = find_server(call, "os_compute_api:os-volumes-attachments:delete", write=True)
    attachments.detach(call.cloud, call.db, call.ctx, server, call.params["volume_id"])
    return Reply(None, status=202)
