"""``/v2.1/os-keypairs``: create (generated or imported), list, show, delete; ``type`` from 2.2."""

from __future__ import annotations

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.compute import keypairs
from kumo.compute.http import render
from kumo.compute.http.common import at_least, router
from kumo.compute.policies import policy
from kumo.errors import BadRequest

NAME = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[a-zA-Z0-9 _-]+$"}
CREATE = {"type": "object", "required": ["keypair"], "properties": {"keypair": {
    "type": "object", "required": ["name"], "additionalProperties": False, "properties": {
        "name": NAME, "public_key": {"type": "string"}, "type": {"enum": ["ssh", "x509"]},
        "user_id": {"type": "string"}}}}}


def _user(call: Call) -> str:
    """Whose key pairs: the caller's, or (admin, 2.10) ``user_id``."""
    ctx = call.ctx
    asked = call.query.get("user_id")
    user_id = asked if asked and at_least(call, 10) else ctx.user_id
    policy.enforce(ctx, "os_compute_api:os-keypairs", {"user_id": user_id})
    return user_id


@router.post("/v2.1/os-keypairs")
def create_keypair(call: Call):
    body = v.check(call.body, CREATE)["keypair"]
    ctx = call.ctx
    if "type" in body and not at_least(call, 2):
        raise BadRequest("Invalid input for field/attribute keypair. Additional properties are not allowed "
                         "('type' was unexpected)")
    if "user_id" in body and not at_least(call, 10):
        raise BadRequest("Invalid input for field/attribute keypair. Additional properties are not allowed "
                         "('user_id' was unexpected)")
    user_id = body.get("user_id") or ctx.user_id
    policy.enforce(ctx, "os_compute_api:os-keypairs", {"user_id": user_id})
    keypair, private = keypairs.create(call.db, user_id=user_id, project_id=ctx.project_id or "",
                                       name=body["name"], key_type=body.get("type", "ssh"),
                                       public_key=body.get("public_key"))
    shown = render.keypair(call, keypair, full=True, private_key=private)
    return Reply({"keypair": shown}, status=201 if at_least(call, 2) else 200)


@router.get("/v2.1/os-keypairs")
def list_keypairs(call: Call):
    user_id = _user(call)
    limit = call.query.get("limit") if at_least(call, 35) else None
    found = keypairs.list_(call.db, user_id, int(limit) if limit and limit.isdigit() else None,
                           call.query.get("marker") if at_least(call, 35) else None)
    return {"keypairs": [{"keypair": render.keypair(call, k, full=False)} for k in found]}


@router.get("/v2.1/os-keypairs/{name}")
def show_keypair(call: Call):
    keypair = keypairs.get(call.db, _user(call), call.params["name"])
    return {"keypair": render.keypair_show(call, keypair)}


@router.delete("/v2.1/os-keypairs/{name}")
def delete_keypair(call: Call):
    keypairs.delete(call.db, _user(call), call.params["name"])
    return Reply(None, status=204 if at_least(call, 2) else 202)
