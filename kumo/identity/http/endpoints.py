"""``/v3/endpoints``."""

from __future__ import annotations

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.identity import catalog_admin
from kumo.identity.catalog import INTERFACES
from kumo.identity.http import render
from kumo.identity.http.common import collection_links, query_filters, router
from kumo.identity.policies import policy

NULLABLE_TEXT = {"type": ["string", "null"]}
PROPS = {"service_id": v.ID, "interface": {"type": "string", "enum": sorted(INTERFACES)},
         "region_id": NULLABLE_TEXT, "region": NULLABLE_TEXT, "enabled": v.BOOLEAN,
         "url": {"type": "string", "minLength": 0, "maxLength": 225, "pattern": "^[a-zA-Z0-9+.-]+:.+"}}
CREATE = v.resource("endpoint", PROPS, required=("interface", "service_id", "url"))
UPDATE = {"type": "object", "required": ["endpoint"], "properties": {"endpoint": {
    "type": "object", "properties": PROPS, "minProperties": 1}}}
KNOWN = set(PROPS) | {"id", "links"}


def _split(body: dict) -> tuple[dict, dict]:
    """The endpoint's own fields, and the extra ones Keystone keeps and echoes."""
    return ({k: val for k, val in body.items() if k in PROPS},
            {k: val for k, val in body.items() if k not in KNOWN})


@router.post("/v3/endpoints")
def create_endpoint(call: Call):
    body = v.check(call.body, CREATE)["endpoint"]
    policy.enforce(call.ctx, "identity:manage_endpoints")
    endpoint = catalog_admin.create_endpoint(call.db, *_split(body))
    return Reply({"endpoint": render.endpoint(call, endpoint)}, status=201)


@router.get("/v3/endpoints")
def list_endpoints(call: Call):
    policy.enforce(call.ctx, "identity:list_endpoints")
    filters = query_filters(call, catalog_admin.ENDPOINT_FILTERS)
    v.check(filters.get("interface", "public"), PROPS["interface"], "interface")
    found = catalog_admin.list_endpoints(call.db, filters)
    return {"endpoints": [render.endpoint(call, e) for e in found], "links": collection_links(call)}


@router.get("/v3/endpoints/{endpoint_id}")
def get_endpoint(call: Call):
    policy.enforce(call.ctx, "identity:get_endpoint")
    return {"endpoint": render.endpoint(call, catalog_admin.get_endpoint(call.db, call.params["endpoint_id"]))}


@router.patch("/v3/endpoints/{endpoint_id}")
def update_endpoint(call: Call):
    body = v.check(call.body, UPDATE)["endpoint"]
    policy.enforce(call.ctx, "identity:manage_endpoints")
    endpoint = catalog_admin.update_endpoint(call.db, call.params["endpoint_id"], *_split(body))
    return {"endpoint": render.endpoint(call, endpoint)}


@router.delete("/v3/endpoints/{endpoint_id}")
def delete_endpoint(call: Call):
    policy.enforce(call.ctx, "identity:manage_endpoints")
    catalog_admin.delete_endpoint(call.db, call.params["endpoint_id"])
    return Reply(None, status=204)
