"""``/v3/{project_id}/volumes`` and their metadata."""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.db.filters import as_bool
from kumo.errors import BadRequest, NotFound
from kumo.volume import volumes
from kumo.volume.filtering import Rules
from kumo.volume.http import render
from kumo.volume.http.common import (
    at_least,
    body_object,
    filter_rules,
    next_link,
    project,
    require,
    router,
    scope,
    version,
    with_count,
)
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
    if body.get("backup_id"):  # 3.47; no backup service here, so no backup to restore
        raise NotFound(f"Backup {body['backup_id']} could not be found.")
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
    rows, more, total = volumes.list_(call.db, scope(call, project_id), call.query, rules=filter_rules(call),
                                      admin=policy.check(call.ctx, "volume:admin_action"),
                                      with_count=with_count(call))
    if detail:
        names = _type_names(call)
        body = {"volumes": [render.volume(call, row, names) for row in rows]}
    else:
        body = {"volumes": [render.volume_summary(call, row) for row in rows]}
    if more:
        body["volumes_links"] = next_link(call, project_id, "volumes/detail" if detail else "volumes", rows[-1].id)
    if total is not None:
        body["count"] = total
    return body


@router.get("/v3/{project_id}/volumes")
def list_volumes(call: Call):
    return _list(call, detail=False)


@router.get("/v3/{project_id}/volumes/detail")
def list_volumes_detail(call: Call):
    return _list(call, detail=True)


@router.get("/v3/{project_id}/volumes/summary")
def volumes_summary(call: Call):
    """3.12: how many volumes and GiB the caller has (3.36: and their metadata values by key)."""
    require(call, "3.12")
    project_id = project(call)
    policy.enforce(call.ctx, "volume:get_all", {"project_id": project_id})
    # Cinder's summary drops filters it does not know, whatever the version (no 3.31 refusal, no "like")
    rules = Rules(min(version(call), (3, 30)))
    total, size, metadata = volumes.summary(call.db, scope(call, project_id), call.query, rules=rules,
                                            admin=policy.check(call.ctx, "volume:admin_action"))
    body = {"total_count": total, "total_size": size}
    if at_least(call, "3.36"):
        body["metadata"] = metadata
    return {"volume-summary": body}


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
    force = at_least(call, "3.23") and as_bool(call.query.get("force", "false"))  # 3.23: ?force=true, admin's
    if force:
        policy.enforce(call.ctx, "volume:admin_action", _target(volume))
    volumes.delete(call.cloud, call.db, volume, cascade=as_bool(call.query.get("cascade", "false")), force=force)
    return Reply(None, status=202)


# -- metadata ---------------------------------------------------------------------

def _meta_body(call: Call, key: str) -> dict:
    value = body_object(call, key)
    return volumes.check_metadata(value)


def _etag(metadata: dict) -> str:
    """3.15: the ETag of a volume's metadata (an md5 of its JSON, as Cinder's)."""
    return hashlib.md5(json.dumps({"metadata": metadata}).encode(), usedforsecurity=False).hexdigest()


def _if_match(call: Call, volume) -> bool:
    """Whether ``If-Match`` (3.15) names the metadata's current ETag (or is absent, or ``*``)."""
    header = call.headers.get("if-match")
    if not header or not at_least(call, "3.15"):
        return True
    tags = {t.strip().removeprefix("W/").strip('"') for t in header.split(",")}
    return "*" in tags or _etag(volumes.metadata(volume)) in tags


@router.get("/v3/{project_id}/volumes/{volume_id}/metadata")
def show_metadata(call: Call):
    body = {"metadata": volumes.metadata(_volume(call, "volume:get_metadata"))}
    if at_least(call, "3.15"):
        return Reply(body, headers={"ETag": _etag(body["metadata"])})
    return body


@router.post("/v3/{project_id}/volumes/{volume_id}/metadata")
def create_metadata(call: Call):
    values = _meta_body(call, "metadata")
    volume = _volume(call, "volume:metadata", lock=True)
    return {"metadata": volumes.set_metadata(call.db, volume, values, replace=False)}


@router.put("/v3/{project_id}/volumes/{volume_id}/metadata")
def replace_metadata(call: Call):
    values = _meta_body(call, "metadata")
    volume = _volume(call, "volume:metadata", lock=True)
    if not _if_match(call, volume):  # changed since the caller read it: the lost update is refused
        return Reply(None, status=412)
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
