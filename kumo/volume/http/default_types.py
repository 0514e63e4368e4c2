"""``/v3/default-types`` (microversion 3.62): projects' default volume types, an admin's to manage."""

from __future__ import annotations

from kumo.api.routing import Call, Reply
from kumo.errors import BadRequest
from kumo.volume import default_types
from kumo.volume.http.common import project, require, router
from kumo.volume.policies import policy

DEFAULT_TYPES = "3.62"


def _view(row) -> dict:
    return {"project_id": row.project_id, "volume_type_id": row.volume_type_id}


def _admin(call: Call) -> str:
    require(call, DEFAULT_TYPES)
    project_id = project(call)
    policy.enforce(call.ctx, "default_type:manage", {"project_id": project_id})
    return project_id


@router.put("/v3/{project_id}/default-types/{target_id}")
def set_default_type(call: Call):
    _admin(call)
    body = call.body.get("default_type") if isinstance(call.body, dict) else None
    if not isinstance(body, dict) or not isinstance(body.get("volume_type"), str) or not body["volume_type"]:
        raise BadRequest("Invalid input for field/attribute default_type. 'volume_type' is a required property.")
    return {"default_type": _view(default_types.set_(call.db, call.params["target_id"], body["volume_type"]))}


@router.get("/v3/{project_id}/default-types")
def list_default_types(call: Call):
    _admin(call)
    return {"default_types": [_view(row) for row in default_types.list_(call.db)]}


@router.get("/v3/{project_id}/default-types/{target_id}")
def show_default_type(call: Call):
    _admin(call)
    return {"default_type": _view(default_types.get(call.db, call.params["target_id"]))}


@router.delete("/v3/{project_id}/default-types/{target_id}")
def delete_default_type(call: Call):
    _admin(call)
    default_types.unset(call.db, call.params["target_id"])
    return Reply(None, status=204)
