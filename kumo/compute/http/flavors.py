"""``/v2.1/flavors``: list, show, admin create/delete, extra specs and access to private flavors."""

from __future__ import annotations

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.compute import flavors
from kumo.compute.http import render
from kumo.compute.http.common import at_least, int_query, next_link, router
from kumo.compute.policies import policy
from kumo.errors import BadRequest, NotFound

POSITIVE = {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1}
NON_NEGATIVE = {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 0}
CREATE = {"type": "object", "required": ["flavor"], "properties": {"flavor": {
    "type": "object", "required": ["name", "ram", "vcpus", "disk"], "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^(?!\s)[^\x00-\x1f]*(?<!\s)$"},
        "id": {"type": ["string", "null"], "minLength": 1, "maxLength": 255,
               "pattern": r"^(?! )[a-zA-Z0-9. _-]+(?<! )$"},
        "ram": POSITIVE, "vcpus": POSITIVE, "disk": NON_NEGATIVE, "OS-FLV-EXT-DATA:ephemeral": NON_NEGATIVE,
        "swap": NON_NEGATIVE, "rxtx_factor": {"type": ["number", "string"], "minimum": 0, "exclusiveMinimum": True},
        "os-flavor-access:is_public": {"type": "boolean"},
        "description": {"type": ["string", "null"], "maxLength": 65535}}}}}
EXTRA_SPECS = {"type": "object", "required": ["extra_specs"], "properties": {"extra_specs": {
    "type": "object", "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": {
        "type": ["string", "number", "boolean"], "maxLength": 255}}, "additionalProperties": False}}}
UPDATE = {"type": "object", "required": ["flavor"], "properties": {"flavor": {
    "type": "object", "required": ["description"], "additionalProperties": False,
    "properties": {"description": {"type": ["string", "null"], "maxLength": 65535,
                                   "pattern": r"^[^\x00-\x1f\x7f]*$"}}}}}
ACCESS = {"type": "object", "required": ["tenant"], "properties": {"tenant": {"type": "string", "minLength": 1}}}


def _flavor(call: Call):
    ctx = call.ctx
    return flavors.get(call.db, call.params["flavor_id"], ctx.project_id, ctx.is_admin)


def _list(call: Call, detail: bool):
    ctx = call.ctx
    policy.enforce(ctx, "os_compute_api:flavors", {})
    sort_key, sort_dir = call.query.get("sort_key", "flavorid"), call.query.get("sort_dir", "asc")
    if sort_key not in flavors.SORT_COLUMNS:
        raise BadRequest(f"Invalid input for query parameters sort_key. Value: {sort_key}.")
    if sort_dir not in ("asc", "desc"):
        raise BadRequest(f"Invalid input for query parameters sort_dir. Value: {sort_dir}.")
    limit = int_query(call, "limit")
    found = flavors.list_(call.db, project_id=ctx.project_id, is_admin=ctx.is_admin,
                          is_public=call.query.get("is_public"), min_ram=int_query(call, "minRam"),
                          min_disk=int_query(call, "minDisk"), sort=[(sort_key, sort_dir == "desc")],
                          limit=limit, marker=call.query.get("marker"))
    body = {"flavors": [render.flavor(call, f, detail) for f in found]}
    if limit is not None and found and len(found) >= limit:
        body["flavors_links"] = next_link(call, "flavors/detail" if detail else "flavors", found[-1].id)
    return body


@router.get("/v2.1/flavors")
def list_flavors(call: Call):
    return _list(call, False)


@router.get("/v2.1/flavors/detail")
def list_flavors_detail(call: Call):
    return _list(call, True)


@router.get("/v2.1/flavors/{flavor_id}")
def show_flavor(call: Call):
    policy.enforce(call.ctx, "os_compute_api:flavors", {})
    return {"flavor": render.flavor(call, _flavor(call))}


@router.post("/v2.1/flavors")
def create_flavor(call: Call):
    policy.enforce(call.ctx, "os_compute_api:os-flavor-manage", {})
    body = v.check(call.body, CREATE)["flavor"]
    if "description" in body and not at_least(call, 55):
        raise BadRequest("Invalid input for field/attribute flavor. Value: description. Additional properties "
                         "are not allowed ('description' was unexpected)")
    flavor = flavors.create(call.db, name=body["name"].strip(), ram=int(body["ram"]), vcpus=int(body["vcpus"]),
                            disk=int(body["disk"]), flavor_id=body.get("id"),
                            ephemeral=int(body.get("OS-FLV-EXT-DATA:ephemeral", 0)), swap=int(body.get("swap", 0)),
                            rxtx_factor=float(body.get("rxtx_factor", 1.0)),
                            is_public=body.get("os-flavor-access:is_public", True),
                            description=body.get("description"))
    if not flavor.is_public and call.ctx.project_id:
        flavors.add_access(call.db, flavor, call.ctx.project_id)
    return {"flavor": render.flavor(call, flavor)}


@router.put("/v2.1/flavors/{flavor_id}")
def update_flavor(call: Call):
    """2.55: only the description changes."""
    if not at_least(call, 55):
        raise NotFound("The resource could not be found.")
    policy.enforce(call.ctx, "os_compute_api:os-flavor-manage:update", {})
    body = v.check(call.body, UPDATE)["flavor"]
    flavor = flavors.get(call.db, call.params["flavor_id"])
    flavors.set_description(call.db, flavor, body["description"])
    return {"flavor": render.flavor(call, flavor)}


@router.delete("/v2.1/flavors/{flavor_id}")
def delete_flavor(call: Call):
    policy.enforce(call.ctx, "os_compute_api:os-flavor-manage", {})
    flavors.delete(call.db, call.params["flavor_id"])
    return Reply(None, status=202)


# -- extra specs ----------------------------------------------------------------------------------

@router.get("/v2.1/flavors/{flavor_id}/os-extra_specs")
def list_extra_specs(call: Call):
    policy.enforce(call.ctx, "os_compute_api:os-flavor-extra-specs:index", {})
    return {"extra_specs": dict(_flavor(call).extra_specs or {})}


def _spec_values(specs: dict) -> dict:
    return {k: (str(val).lower() if isinstance(val, bool) else str(val)) for k, val in specs.items()}


@router.post("/v2.1/flavors/{flavor_id}/os-extra_specs")
def create_extra_specs(call: Call):
    policy.enforce(call.ctx, "os_compute_api:os-flavor-extra-specs:manage", {})
    specs = _spec_values(v.check(call.body, EXTRA_SPECS)["extra_specs"])
    flavors.set_extra_specs(call.db, _flavor(call), specs)
    return {"extra_specs": specs}


@router.get("/v2.1/flavors/{flavor_id}/os-extra_specs/{key}")
def show_extra_spec(call: Call):
    policy.enforce(call.ctx, "os_compute_api:os-flavor-extra-specs:index", {})
    flavor, key = _flavor(call), call.params["key"]
    if key not in (flavor.extra_specs or {}):
        raise NotFound(f"Flavor {flavor.id} has no extra specs with key {key}.")
    return {key: flavor.extra_specs[key]}


@router.put("/v2.1/flavors/{flavor_id}/os-extra_specs/{key}")
def update_extra_spec(call: Call):
    policy.enforce(call.ctx, "os_compute_api:os-flavor-extra-specs:manage", {})
    body = call.body
    key = call.params["key"]
    if not isinstance(body, dict) or len(body) != 1:
        raise BadRequest("Request body contains too many items")
    if key not in body:
        raise BadRequest("Request body and URI mismatch")
    specs = _spec_values(v.check({"extra_specs": body}, EXTRA_SPECS)["extra_specs"])
    flavors.set_extra_specs(call.db, _flavor(call), specs)
    return specs


@router.delete("/v2.1/flavors/{flavor_id}/os-extra_specs/{key}")
def delete_extra_spec(call: Call):
    policy.enforce(call.ctx, "os_compute_api:os-flavor-extra-specs:manage", {})
    flavors.delete_extra_spec(call.db, _flavor(call), call.params["key"])
    return Reply(None, status=200)


# -- access to private flavors --------------------------------------------------------------------

def _access(flavor_id: str, projects: list[str]) -> dict:
    return {"flavor_access": [{"flavor_id": flavor_id, "tenant_id": p} for p in projects]}


@router.get("/v2.1/flavors/{flavor_id}/os-flavor-access")
def list_flavor_access(call: Call):
    policy.enforce(call.ctx, "os_compute_api:os-flavor-access", {})
    flavor = _flavor(call)
    return _access(flavor.id, flavors.access_list(call.db, flavor))


@router.post("/v2.1/flavors/{flavor_id}/action")
def flavor_action(call: Call):
    policy.enforce(call.ctx, "os_compute_api:os-flavor-access", {})
    body = call.body if isinstance(call.body, dict) else {}
    flavor = _flavor(call)
    if "addTenantAccess" in body:
        tenant = v.check(body["addTenantAccess"], ACCESS, "addTenantAccess")["tenant"]
        return _access(flavor.id, flavors.add_access(call.db, flavor, tenant))
    if "removeTenantAccess" in body:
        tenant = v.check(body["removeTenantAccess"], ACCESS, "removeTenantAccess")["tenant"]
        return _access(flavor.id, flavors.remove_access(call.db, flavor, tenant))
    raise BadRequest("There is no such action: " + ", ".join(body) if body else "Malformed request body")
