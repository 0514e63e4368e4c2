"""``/v3/{project_id}/volumes`` and their metadata."""

from __future__ import annotations

import sqlalchemy as sa

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.db.filters import as_bool
from kumo.errors import BadRequest, NotFound
from kumo.volume import volumes
from kumo.volume.http import render
from kumo.volume.http.common import body_object, next_link, project, router, scope
from kumo.volume.models import VolumeType
from kumo.volume.policies import policy

TEXT = {"type": ["string", "null"], "maxLength": 255}
METADATA = {"type": ["object", "null"], "additionalProperties": {"type": "string", "maxLength": 255}}
CREATE = {"type": "object", "required": ["volume"], "properties": {"volume": {
    "type": "object", "properties": {
        "size": {"type": ["integer", "string", "null"]}, "name": TEXT, "display_name": TEXT,
        "description": TEXT, "display_description": TEXT, "volume_type": {"type": ["string", "null"]},
        "availability_zone": {"type": ["string", "null"]}, "metadata": METADATA,
        "snapshot_id": {"type": ["string", "null"]}, "source_volid": {"type": ["string", "null"]},
        "imageRef": {"type": ["string", "null"]}, "image_id": {"type": ["string", "null"]},
        "multiattach": {"type": "boolean"}, "consistencygroup_id": {"type": ["string", "null"]},
        "backup_id": {"type": ["string", "null"]}}, "additionalProperties": False}}}
UPDATE = {"type": "object", "required": ["volume"], "properties": {"volume": {
    "type": "object", "properties": {"name": TEXT, "display_name": TEXT, "description": TEXT,
                                     "display_description": TEXT, "metadata": METADATA},
    "additionalProperties": False}}}


def _target(volume) -> dict:
    return {"project_id": volume.project_id}


def _type_names(call: Call) -> dict[str, str]:
    return dict(call.db.execute(sa.select(VolumeType.id, VolumeType.name)).all())


@router.post("/v3/{project_id}/volumes")
def create_volume(call: Call):
    project_id = project(call)
    body = v.check(call.body, CREATE)["volume"]
    policy.enforce(call.ctx, "volume:create", {"project_id": project_id})
    if body.get("backup_id"):
        raise BadRequest("Invalid input received: Backups are not supported by this cloud.")
    volume = volumes.create(
        call.cloud, call.db, call.ctx, project_id, size=body.get("size"),
        name=body.get("name", body.get("display_name")),
        description=body.get("description", body.get("display_description")), metadata=body.get("metadata"),
        volume_type=body.get("volume_type"), availability_zone=body.get("availability_zone"),
        snapshot_id=body.get("snapshot_id"), source_volid=body.get("source_volid"),
        image_id=body.get("imageRef") or body.get("image_id"), multiattach=body.get("multiattach", False))
    return Reply({"volume": render.created_volume(call, volume)}, status=202)


def _list(call: Call, detail: bool):
    project_id = project(call)
    policy.enforce(call.ctx, "volume:get_all", {"project_id": project_id})
    rows, more = volumes.list_(call.db, scope(call, project_id), call.query)
    if detail:
        names = _type_names(call)
        body = {"volumes": [render.volume(call, row, names) for row in rows]}
    else:
        body = {"volumes": [render.volume_summary(call, row) for row in rows]}
    if more:
        body["volumes_links"] = next_link(call, project_id, "volumes/detail" if detail else "volumes", rows[-1].id)
    return body


@router.get("/v3/{project_id}/volumes")
def list_volumes(call: Call):
    return _list(call, detail=False)


@router.get("/v3/{project_id}/volumes/detail")
def list_volumes_detail(call: Call):
    return _list(call, detail=True)


def _volume(call: Call, action: str, lock: bool = False):
    project(call)
    volume = volumes.get(call.db, call.ctx, call.params["volume_id"], lock=lock)
    policy.enforce(call.ctx, action, _target(volume))
    return volume


@router.get("/v3/{project_id}/volumes/{volume_id}")
def show_volume(call: Call):
    return {"volume": render.volume(call, _volume(call, "volume:get"))}


@router.put("/v3/{project_id}/volumes/{volume_id}")
def update_volume(call: Call):
    body = v.check(call.body, UPDATE)["volume"]
    volume = _volume(call, "volume:update", lock=True)
    values = {}
    for field in ("name", "description"):
        if field in body or f"display_{field}" in body:
            values[field] = body.get(field, body.get(f"display_{field}"))
    if "metadata" in body:
        values["metadata"] = body["metadata"] or {}
    volume = volumes.update(call.db, volume, values)
    return {"volume": render.created_volume(call, volume)}


@router.delete("/v3/{project_id}/volumes/{volume_id}")
def delete_volume(call: Call):
    volume = _volume(call, "volume:delete", lock=True)
    volumes.delete(call.cloud, call.db, volume, cascade=as_bool(call.query.get("cascade", "false")),
                   force=as_bool(call.query.get("force", "false")) and policy.check(call.ctx, "volume:admin_action"))
    return Reply(None, status=202)


# -- metadata ---------------------------------------------------------------------

def _meta_body(call: Call, key: str) -> dict:
    value = body_object(call, key)
    return volumes.check_metadata(value)


@router.get("/v3/{project_id}/volumes/{volume_id}/metadata")
def show_metadata(call: Call):
    return {"metadata": volumes.metadata(_volume(call, "volume:get_metadata"))}


@router.post("/v3/{project_id}/volumes/{volume_id}/metadata")
def create_metadata(call: Call):
    values = _meta_body(call, "metadata")
    volume = _volume(call, "volume:metadata", lock=True)
    return {"metadata": volumes.set_metadata(call.db, volume, values, replace=False)}


@router.put("/v3/{project_id}/volumes/{volume_id}/metadata")
def replace_metadata(call: Call):
    values = _meta_body(call, "metadata")
    volume = _volume(call, "volume:metadata", lock=True)
    return {"metadata": volumes.set_metadata(call.db, volume, values, replace=True)}


@router.get("/v3/{project_id}/volumes/{volume_id}/metadata/{key}")
def show_metadata_item(call: Call):
    data = volumes.metadata(_volume(call, "volume:get_metadata"))
    key = call.params["key"]
    if key not in data:
        raise NotFound("Metadata item was not found")
    return {"meta": {key: data[key]}}


@router.put("/v3/{project_id}/volumes/{volume_id}/metadata/{key}")
def update_metadata_item(call: Call):
    meta = _meta_body(call, "meta")
    key = call.params["key"]
    if len(meta) > 1:
        raise BadRequest("Request body contains too many items")
    if key not in meta:
        raise BadRequest("Request body and URI mismatch")
    volume = _volume(call, "volume:metadata", lock=True)
    volumes.set_metadata(call.db, volume, meta, replace=False)
    return {"meta": meta}


@router.delete("/v3/{project_id}/volumes/{volume_id}/metadata/{key}")
def delete_metadata_item(call: Call):
    volume = _volume(call, "volume:metadata", lock=True)
    volumes.delete_metadata_item(call.db, volume, call.params["key"])
    return Reply(None, status=200)
