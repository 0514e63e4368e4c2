"""``/v3/regions``."""

from __future__ import annotations

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.errors import BadRequest
from kumo.identity import catalog_admin
from kumo.identity.http import render
from kumo.identity.http.common import collection_links, query_filters, router
from kumo.identity.policies import policy

PROPS = {"id": v.ID, "description": v.DESCRIPTION, "parent_region_id": v.NULLABLE_ID}
CREATE = v.resource("region", PROPS)
UPDATE = {"type": "object", "required": ["region"], "properties": {"region": {
    "type": "object", "properties": PROPS, "minProperties": 1}}}


def _extra(body: dict) -> dict:
    return {k: val for k, val in body.items() if k not in PROPS and k != "links"}


def _create(call: Call, body: dict, region_id: str | None):
    policy.enforce(call.ctx, "identity:manage_regions")
    region = catalog_admin.create_region(call.db, id=region_id, description=body.get("description"),
                                         parent_region_id=body.get("parent_region_id"), extra=_extra(body))
    return Reply({"region": render.region(call, region)}, status=201)


@router.post("/v3/regions")
def create_region(call: Call):
    """The client may choose the id (Keystone accepts it here as well as with PUT)."""
    body = v.check(call.body, CREATE)["region"]
    return _create(call, body, body.get("id"))


@router.put("/v3/regions/{region_id}")
def put_region(call: Call):
    body = v.check(call.body, CREATE)["region"]
    region_id = call.params["region_id"]
    if "id" in body and body["id"] != region_id:
        raise BadRequest(f'Conflicting region IDs specified: "{region_id}" != "{body["id"]}"')
    return _create(call, body, region_id)


@router.get("/v3/regions")
def list_regions(call: Call):
    policy.enforce(call.ctx, "identity:list_regions")
    found = catalog_admin.list_regions(call.db, query_filters(call, catalog_admin.REGION_FILTERS))
    return {"regions": [render.region(call, r) for r in found], "links": collection_links(call)}


@router.get("/v3/regions/{region_id}")
def get_region(call: Call):
    policy.enforce(call.ctx, "identity:get_region")
    return {"region": render.region(call, catalog_admin.get_region(call.db, call.params["region_id"]))}


@router.patch("/v3/regions/{region_id}")
def update_region(call: Call):
    body = v.check(call.body, UPDATE)["region"]
    policy.enforce(call.ctx, "identity:manage_regions")
    region = catalog_admin.update_region(call.db, call.params["region_id"], body, _extra(body))
    return {"region": render.region(call, region)}


@router.delete("/v3/regions/{region_id}")
def delete_region(call: Call):
    policy.enforce(call.ctx, "identity:manage_regions")
    catalog_admin.delete_region(call.db, call.params["region_id"])
    return Reply(None, status=204)
