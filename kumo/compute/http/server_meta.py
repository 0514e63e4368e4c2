"""A server's metadata, tags (2.26) and instance actions."""

from __future__ import annotations

from urllib.parse import urlencode

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.compute import instance_actions, limits, servers
from kumo.compute.http import render
from kumo.compute.http.common import (
    at_least,
    find_server,
    int_query,
    links,
    router,
    time_window,
)
from kumo.compute.http.servers import METADATA
from kumo.compute.policies import policy
from kumo.db import utcnow
from kumo.errors import BadRequest, NotFound

METADATA_BODY = {"type": "object", "required": ["metadata"], "properties": {"metadata": METADATA}}
META_BODY = {"type": "object", "required": ["meta"], "properties": {"meta": {**METADATA, "minProperties": 1}}}
TAG = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[^,/]*$"}
TAGS_BODY = {"type": "object", "required": ["tags"], "additionalProperties": False, "properties": {
    "tags": {"type": "array", "items": TAG, "maxItems": 50}}}
MAX_TAGS = 50


def _writable(call: Call, action: str):
    server = find_server(call, action, write=True)
    servers.check_unlocked(server, call.ctx)
    if server.task_state == "deleting":
        raise NotFound(f"Instance {server.id} could not be found.")
    return server


def _set_metadata(call: Call, server, metadata: dict) -> dict:
    limits.check_metadata(call.db, server.project_id, metadata)
    server.metadata_ = metadata
    server.updated_at = utcnow()
    call.db.flush()
    return dict(server.metadata_)


@router.get("/v2.1/servers/{server_id}/metadata")
def list_metadata(call: Call):
    server = find_server(call, "os_compute_api:server-metadata:index")
    return {"metadata": dict(server.metadata_ or {})}


@router.post("/v2.1/servers/{server_id}/metadata")
def update_metadata(call: Call):
    body = v.check(call.body, METADATA_BODY)
    server = _writable(call, "os_compute_api:server-metadata:update")
    return {"metadata": _set_metadata(call, server, {**(server.metadata_ or {}), **body["metadata"]})}


@router.put("/v2.1/servers/{server_id}/metadata")
def replace_metadata(call: Call):
    body = v.check(call.body, METADATA_BODY)
    server = _writable(call, "os_compute_api:server-metadata:update")
    return {"metadata": _set_metadata(call, server, dict(body["metadata"]))}


@router.get("/v2.1/servers/{server_id}/metadata/{key}")
def show_metadata_item(call: Call):
    server = find_server(call, "os_compute_api:server-metadata:index")
    key = call.params["key"]
    if key not in (server.metadata_ or {}):
        raise NotFound("Metadata item was not found")
    return {"meta": {key: server.metadata_[key]}}


@router.put("/v2.1/servers/{server_id}/metadata/{key}")
def set_metadata_item(call: Call):
    body = v.check(call.body, META_BODY)["meta"]
    key = call.params["key"]
    if len(body) > 1:
        raise BadRequest("Request body contains too many items")
    if key not in body:
        raise BadRequest("Request body and URI mismatch")
    server = _writable(call, "os_compute_api:server-metadata:update")
    _set_metadata(call, server, {**(server.metadata_ or {}), key: body[key]})
    return {"meta": {key: body[key]}}


@router.delete("/v2.1/servers/{server_id}/metadata/{key}")
def delete_metadata_item(call: Call):
    server = _writable(call, "os_compute_api:server-metadata:update")
    key = call.params["key"]
    if key not in (server.metadata_ or {}):
        raise NotFound("Metadata item was not found")
    _set_metadata(call, server, {k: val for k, val in server.metadata_.items() if k != key})
    return Reply(None, status=204)


# -- tags (2.26) ----------------------------------------------------------------------------------

def _tags_server(call: Call, write: bool):
    if not at_least(call, 26):
        raise NotFound("The resource could not be found.")
    if write:
        return _writable(call, "os_compute_api:server-tags:update")
    return find_server(call, "os_compute_api:server-tags:index")


def _save_tags(call: Call, server, tags: list) -> None:
    if len(tags) > MAX_TAGS:
        raise BadRequest(f"The number of tags exceeded the per-server limit {MAX_TAGS}")
    server.tags = tags
    server.updated_at = utcnow()
    call.db.flush()


@router.get("/v2.1/servers/{server_id}/tags")
def list_tags(call: Call):
    return {"tags": list(_tags_server(call, False).tags or [])}


@router.put("/v2.1/servers/{server_id}/tags")
def replace_tags(call: Call):
    body = v.check(call.body, TAGS_BODY)
    server = _tags_server(call, True)
    _save_tags(call, server, list(dict.fromkeys(body["tags"])))
    return {"tags": list(server.tags)}


@router.delete("/v2.1/servers/{server_id}/tags")
def delete_tags(call: Call):
    _save_tags(call, _tags_server(call, True), [])
    return Reply(None, status=204)


@router.get("/v2.1/servers/{server_id}/tags/{tag}")
def check_tag(call: Call):
    server = _tags_server(call, False)
    if call.params["tag"] not in (server.tags or []):
        raise NotFound(f"Tag {call.params['tag']} could not be found.")
    return Reply(None, status=204)


@router.put("/v2.1/servers/{server_id}/tags/{tag}")
def add_tag(call: Call):
    tag = call.params["tag"]
    v.check(tag, TAG, "tag")
    server = _tags_server(call, True)
    if tag in (server.tags or []):
        return Reply(None, status=204)
    _save_tags(call, server, [*server.tags, tag])
    return Reply(None, status=201, headers={"Location": call.url})


@router.delete("/v2.1/servers/{server_id}/tags/{tag}")
def delete_tag(call: Call):
    server = _tags_server(call, True)
    tag = call.params["tag"]
    if tag not in (server.tags or []):
        raise NotFound(f"Tag {tag} could not be found.")
    _save_tags(call, server, [t for t in server.tags if t != tag])
    return Reply(None, status=204)


# -- instance actions -----------------------------------------------------------------------------

@router.get("/v2.1/servers/{server_id}/os-instance-actions")
def list_instance_actions(call: Call):
    server = find_server(call, "os_compute_api:os-instance-actions:list")
    if not at_least(call, 58):
        return {"instanceActions": [render.instance_action(a) for a in instance_actions.list_(call.db, server.id)]}
    limit = int_query(call, "limit")
    limit = None if limit is None else min(limit, 1000)
    since, before = time_window(call, 66)
    found = instance_actions.list_(call.db, server.id, limit=limit, marker=call.query.get("marker"),
                                   changes_since=since, changes_before=before)
    body = {"instanceActions": [render.instance_action(a, updated=True) for a in found]}
    if limit is not None and found and len(found) >= limit:
        params = [(k, val) for k, val in call.query.multi_items() if k != "marker"]
        params.append(("marker", found[-1].request_id))
        href = links(call, f"servers/{server.id}/os-instance-actions", "")[0]["href"].rstrip("/")
        body["links"] = [{"rel": "next", "href": f"{href}?{urlencode(params)}"}]
    return body


@router.get("/v2.1/servers/{server_id}/os-instance-actions/{request_id}")
def show_instance_action(call: Call):
    server = find_server(call, "os_compute_api:os-instance-actions:list")
    action = instance_actions.get(call.db, server.id, call.params["request_id"])
    with_events = policy.check(call.ctx, "os_compute_api:os-instance-actions:events", {})
    events = True if with_events else (False if at_least(call, 51) else None)
    hosts = with_events if at_least(call, 62) else None
    details = at_least(call, 84) and policy.check(call.ctx, "os_compute_api:os-instance-actions:events:details", {})
    return {"instanceAction": render.instance_action(action, events=events, updated=at_least(call, 58),
                                                     hosts=hosts, details=details)}
