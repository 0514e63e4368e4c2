"""``/v3/{project_id}/snapshots`` and their metadata."""

from __future__ import annotations

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.db.filters import as_bool
from kumo.errors import BadRequest, NotFound
from kumo.volume import snapshots
from kumo.volume.http import render
from kumo.volume.http.common import (
    at_least,
    body_object,
    filter_rules,
    next_link,
    project,
    router,
    scope,
    with_count,
)
from kumo.volume.http.volumes import METADATA, TEXT
from kumo.volume.policies import policy

CREATE = {"type": "object", "required": ["snapshot"], "properties": {"snapshot": {
    "type": "object", "properties": {
        "volume_id": {"type": ["string", "null"]}, "name": TEXT, "display_name": TEXT, "description": TEXT,
        "display_description": TEXT, "force": {"type": ["boolean", "string"]}, "metadata": METADATA},
    "required": ["volume_id"], "additionalProperties": False}}}
UPDATE = {"type": "object", "required": ["snapshot"], "properties": {"snapshot": {
    "type": "object", "properties": {"name": TEXT, "display_name": TEXT, "description": TEXT,
                                     "display_description": TEXT},
    "additionalProperties": False}}}


@router.post("/v3/{project_id}/snapshots")
def create_snapshot(call: Call):
    project_id = project(call)
    body = v.check(call.body, CREATE)["snapshot"]
    policy.enforce(call.ctx, "snapshot:create", {"project_id": project_id})
    force = body.get("force", False)
    force = as_bool(force) if isinstance(force, str) else force
    if at_least(call, "3.66"):  # an in-use volume's snapshot needs no force
        if "force" in body and not force:
            raise BadRequest("Since microversion 3.66 the 'force' flag is invalid to be False.")
        force = True
    snap = snapshots.create(call.cloud, call.db, call.ctx, volume_id=body["volume_id"],
                            name=body.get("name", body.get("display_name")),
                            description=body.get("description", body.get("display_description")),
                            metadata=body.get("metadata"), force=force)
    return Reply({"snapshot": render.snapshot(call, snap, detail=False)}, status=202)


def _list(call: Call, detail: bool):
    project_id = project(call)
    policy.enforce(call.ctx, "snapshot:get", {"project_id": project_id})
    rows, more, total = snapshots.list_(call.db, scope(call, project_id), call.query, rules=filter_rules(call),
                                        admin=policy.check(call.ctx, "volume:admin_action"),
                                        with_count=with_count(call))
    body = {"snapshots": [render.snapshot(call, row, detail=detail, versioned=detail) for row in rows]}
    if more:
        body["snapshots_links"] = next_link(call, project_id, "snapshots/detail" if detail else "snapshots",
                                            rows[-1].id)
    if total is not None:
        body["count"] = total
    return body


@router.get("/v3/{project_id}/snapshots")
def list_snapshots(call: Call):
    return _list(call, detail=False)


@router.get("/v3/{project_id}/snapshots/detail")
def list_snapshots_detail(call: Call):
    return _list(call, detail=True)


def _snapshot(call: Call, action: str):
    project(call)
    snap = snapshots.get(call.db, call.ctx, call.params["snapshot_id"])
    policy.enforce(call.ctx, action, {"project_id": snap.project_id})
    return snap


@router.get("/v3/{project_id}/snapshots/{snapshot_id}")
def show_snapshot(call: Call):
    return {"snapshot": render.snapshot(call, _snapshot(call, "snapshot:get"))}


@router.put("/v3/{project_id}/snapshots/{snapshot_id}")
def update_snapshot(call: Call):
    body = v.check(call.body, UPDATE)["snapshot"]
    snap = _snapshot(call, "snapshot:update")
    values = {}
    for field in ("name", "description"):
        if field in body or f"display_{field}" in body:
            values[field] = body.get(field, body.get(f"display_{field}"))
    return {"snapshot": render.snapshot(call, snapshots.update(call.db, snap, values), detail=False)}


@router.delete("/v3/{project_id}/snapshots/{snapshot_id}")
def delete_snapshot(call: Call):
    snapshots.delete(call.cloud, call.db, _snapshot(call, "snapshot:delete"))
    return Reply(None, status=202)


@router.post("/v3/{project_id}/snapshots/{snapshot_id}/action")
def snapshot_action(call: Call):
    snap = _snapshot(call, "snapshot:update")
    if isinstance(call.body, dict) and "os-force_delete" in call.body:
        policy.enforce(call.ctx, "volume:admin_action", {"project_id": snap.project_id})
        snapshots.delete(call.cloud, call.db, snap, force=True)
        return Reply(None, status=202)
    if isinstance(call.body, dict) and "os-reset_status" in call.body:
        policy.enforce(call.ctx, "volume:admin_action", {"project_id": snap.project_id})
        status = (call.body["os-reset_status"] or {}).get("status")
        if status not in ("creating", "available", "deleting", "error", "error_deleting"):
            raise BadRequest(f"Invalid input received: Must specify a valid status, got {status!r}.")
        snap.status = status
        return Reply(None, status=202)
    raise BadRequest(f"There is no such action: {', '.join(call.body or {}) or 'none'}")


# -- metadata ---------------------------------------------------------------------

@router.get("/v3/{project_id}/snapshots/{snapshot_id}/metadata")
def show_metadata(call: Call):
    return {"metadata": dict(_snapshot(call, "snapshot:get").metadata_ or {})}


@router.post("/v3/{project_id}/snapshots/{snapshot_id}/metadata")
def create_metadata(call: Call):
    values = body_object(call, "metadata")
    snap = _snapshot(call, "snapshot:metadata")
    return {"metadata": snapshots.set_metadata(call.db, snap, values, replace=False)}


@router.put("/v3/{project_id}/snapshots/{snapshot_id}/metadata")
def replace_metadata(call: Call):
    values = body_object(call, "metadata")
    snap = _snapshot(call, "snapshot:metadata")
    return {"metadata": snapshots.set_metadata(call.db, snap, values, replace=True)}


@router.get("/v3/{project_id}/snapshots/{snapshot_id}/metadata/{key}")
def show_metadata_item(call: Call):
    data = _snapshot(call, "snapshot:get").metadata_ or {}
    key = call.params["key"]
    if key not in data:
        raise NotFound("Metadata item was not found")
    return {"meta": {key: data[key]}}


@router.put("/v3/{project_id}/snapshots/{snapshot_id}/metadata/{key}")
def update_metadata_item(call: Call):
    meta = body_object(call, "meta")
    key = call.params["key"]
    if len(meta) > 1:
        raise BadRequest("Request body contains too many items")
    if key not in meta:
        raise BadRequest("Request body and URI mismatch")
    snap = _snapshot(call, "snapshot:metadata")
    snapshots.set_metadata(call.db, snap, meta, replace=False)
    return {"meta": meta}


@router.delete("/v3/{project_id}/snapshots/{snapshot_id}/metadata/{key}")
def delete_metadata_item(call: Call):
    snapshots.delete_metadata_item(call.db, _snapshot(call, "snapshot:metadata"), call.params["key"])
    return Reply(None, status=200)
