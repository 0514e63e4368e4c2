"""``/v3/{project_id}/types`` and their extra specs."""

from __future__ import annotations

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.db.filters import as_bool
from kumo.errors import BadRequest, NotFound
from kumo.volume import types
from kumo.volume.filtering import parse_dict
from kumo.volume.http import render
from kumo.volume.http.common import at_least, body_object, project, router
from kumo.volume.policies import policy

SPECS = {"type": "object", "additionalProperties": {"type": "string", "maxLength": 255}}
PROPS = {"name": {"type": "string", "minLength": 1, "maxLength": 255}, "description": {"type": ["string", "null"],
         "maxLength": 255}, "os-volume-type-access:is_public": {"type": ["boolean", "string"]},
         "is_public": {"type": ["boolean", "string"]}, "extra_specs": SPECS}
CREATE = v.resource("volume_type", PROPS, required=("name",), additional=False)
UPDATE = v.resource("volume_type", {k: PROPS[k] for k in ("name", "description", "is_public")}, additional=False)


def _public(body: dict, default):
    value = body.get("os-volume-type-access:is_public", body.get("is_public", default))
    return as_bool(value) if isinstance(value, str) else value


def _type(call: Call, manage: bool = False):
    project_id = project(call)
    vtype = types.get(call.db, call.params["type_id"], project_id)
    policy.enforce(call.ctx, "type:manage" if manage else "type:get", {"project_id": project_id})
    if not vtype.is_public and not policy.check(call.ctx, "type:manage"):
        raise NotFound(f"Volume type {call.params['type_id']} could not be found.")
    return vtype


@router.get("/v3/{project_id}/types")
def list_types(call: Call):
    project_id = project(call)
    policy.enforce(call.ctx, "type:get", {"project_id": project_id})
    admin = policy.check(call.ctx, "type:manage")
    is_public = call.query.get("is_public")
    found = types.list_(call.db, include_private=admin,
                        is_public=None if is_public in (None, "None") or not admin else as_bool(is_public))
    if at_least(call, "3.52") and call.query.get("extra_specs"):  # 3.52: types whose extra specs include these
        wanted = {k: str(v) for k, v in parse_dict(call.query["extra_specs"], "extra_specs").items()}
        found = [t for t in found if wanted.items() <= {k: str(v) for k, v in (t.extra_specs or {}).items()}.items()]
    return {"volume_types": [render.volume_type(call, t) for t in found]}


@router.get("/v3/{project_id}/types/{type_id}")
def show_type(call: Call):
    return {"volume_type": render.volume_type(call, _type(call))}


@router.post("/v3/{project_id}/types")
def create_type(call: Call):
    project_id = project(call)
    policy.enforce(call.ctx, "type:manage", {"project_id": project_id})
    body = v.check(call.body, CREATE)["volume_type"]
    if not body["name"].strip():
        raise BadRequest("Invalid input received: Volume type name can not be empty.")
    vtype = types.create(call.db, name=body["name"], description=body.get("description"),
                         is_public=_public(body, True), extra_specs=body.get("extra_specs") or {})
    return {"volume_type": render.volume_type(call, vtype)}


@router.put("/v3/{project_id}/types/{type_id}")
def update_type(call: Call):
    body = v.check(call.body, UPDATE)["volume_type"]
    vtype = _type(call, manage=True)
    values = {k: body[k] for k in ("name", "description") if k in body}
    if "is_public" in body:
        values["is_public"] = _public(body, vtype.is_public)
    return {"volume_type": render.volume_type(call, types.update(call.db, vtype, values))}


@router.delete("/v3/{project_id}/types/{type_id}")
def delete_type(call: Call):
    types.delete(call.db, _type(call, manage=True))
    return Reply(None, status=202)


@router.get("/v3/{project_id}/types/{type_id}/extra_specs")
def list_extra_specs(call: Call):
    return {"extra_specs": dict(_type(call, manage=True).extra_specs)}


@router.post("/v3/{project_id}/types/{type_id}/extra_specs")
def create_extra_specs(call: Call):
    specs = v.check(body_object(call, "extra_specs"), SPECS, "extra_specs")
    vtype = _type(call, manage=True)
    types.set_extra_specs(call.db, vtype, specs)
    return {"extra_specs": specs}


@router.get("/v3/{project_id}/types/{type_id}/extra_specs/{key}")
def show_extra_spec(call: Call):
    vtype = _type(call, manage=True)
    key = call.params["key"]
    if key not in vtype.extra_specs:
        raise NotFound(f"Volume Type {vtype.id} has no extra specs with key {key}.")
    return {key: vtype.extra_specs[key]}


@router.put("/v3/{project_id}/types/{type_id}/extra_specs/{key}")
def update_extra_spec(call: Call):
    body = v.check(call.body, {"type": "object", "minProperties": 1, "additionalProperties": {
        "type": "string", "maxLength": 255}})
    key = call.params["key"]
    if len(body) > 1:
        raise BadRequest("Request body contains too many items")
    if key not in body:
        raise BadRequest("Request body and URI mismatch")
    types.set_extra_specs(call.db, _type(call, manage=True), body)
    return body


@router.delete("/v3/{project_id}/types/{type_id}/extra_specs/{key}")
def delete_extra_spec(call: Call):
    types.delete_extra_spec(call.db, _type(call, manage=True), call.params["key"])
    return Reply(None, status=202)
