"""``/v3/services``."""

from __future__ import annotations

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.identity import catalog_admin
from kumo.identity.http import render
from kumo.identity.http.common import collection_links, query_filters, router
from kumo.identity.policies import policy

TEXT = {"type": "string", "minLength": 1, "maxLength": 255}
PROPS = {"type": TEXT, "name": TEXT, "description": v.DESCRIPTION, "enabled": v.BOOLEAN}
CREATE = v.resource("service", PROPS, required=("type",))
UPDATE = {"type": "object", "required": ["service"], "properties": {"service": {
    "type": "object", "properties": PROPS, "minProperties": 1}}}


def _extra(body: dict) -> dict:
    return {k: val for k, val in body.items() if k not in PROPS and k not in ("id", "links")}


@router.post("/v3/services")
def create_service(call: Call):
    body = v.check(call.body, CREATE)["service"]
    policy.enforce(call.ctx, "identity:manage_services")
    service = catalog_admin.create_service(call.db, type=body["type"], name=body.get("name") or "",
                                           description=body.get("description") or "",
                                           enabled=body.get("enabled", True), extra=_extra(body))
    return Reply({"service": render.service(call, service)}, status=201)


@router.get("/v3/services")
def list_services(call: Call):
    policy.enforce(call.ctx, "identity:list_services")
    found = catalog_admin.list_services(call.db, query_filters(call, catalog_admin.SERVICE_FILTERS))
    return {"services": [render.service(call, s) for s in found], "links": collection_links(call)}


@router.get("/v3/services/{service_id}")
def get_service(call: Call):
    policy.enforce(call.ctx, "identity:get_service")
    return {"service": render.service(call, catalog_admin.get_service(call.db, call.params["service_id"]))}


@router.patch("/v3/services/{service_id}")
def update_service(call: Call):
    body = v.check(call.body, UPDATE)["service"]
    policy.enforce(call.ctx, "identity:manage_services")
    service = catalog_admin.update_service(call.db, call.params["service_id"], body, _extra(body))
    return {"service": render.service(call, service)}


@router.delete("/v3/services/{service_id}")
def delete_service(call: Call):
    policy.enforce(call.ctx, "identity:manage_services")
    catalog_admin.delete_service(call.db, call.params["service_id"])
    return Reply(None, status=204)
