"""``/v3/domains``."""

from __future__ import annotations

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.identity import domains
from kumo.identity.http import render
from kumo.identity.http.common import collection_links, query_filters, router
from kumo.identity.policies import policy

PROPS = {"name": v.name(64), "description": v.DESCRIPTION, "enabled": v.BOOLEAN, "tags": v.TAGS,
         "options": {"type": "object"}, "explicit_domain_id": v.ID}
CREATE = v.resource("domain", PROPS, required=("name",))
UPDATE = v.resource("domain", PROPS)


@router.post("/v3/domains")
def create_domain(call: Call):
    body = v.check(call.body, CREATE)["domain"]
    policy.enforce(call.ctx, "identity:create_domain")
    domain = domains.create(call.db, name=body["name"], description=body.get("description") or "",
                            enabled=body.get("enabled", True), tags=body.get("tags", []),
                            options=body.get("options"), id=body.get("explicit_domain_id"))
    return Reply({"domain": render.domain(call, domain)}, status=201)


@router.get("/v3/domains")
def list_domains(call: Call):
    policy.enforce(call.ctx, "identity:list_domains")
    found = domains.list_(call.db, query_filters(call, domains.FILTERS))
    return {"domains": [render.domain(call, d) for d in found], "links": collection_links(call)}


@router.get("/v3/domains/{domain_id}")
def get_domain(call: Call):
    domain = domains.get(call.db, call.params["domain_id"])
    policy.enforce(call.ctx, "identity:get_domain", {"id": domain.id})
    return {"domain": render.domain(call, domain)}


@router.patch("/v3/domains/{domain_id}")
def update_domain(call: Call):
    body = v.check(call.body, UPDATE)["domain"]
    policy.enforce(call.ctx, "identity:update_domain", {"id": call.params["domain_id"]})
    return {"domain": render.domain(call, domains.update(call.db, call.params["domain_id"], body))}


@router.delete("/v3/domains/{domain_id}")
def delete_domain(call: Call):
    policy.enforce(call.ctx, "identity:delete_domain", {"id": call.params["domain_id"]})
    domains.delete(call.db, call.params["domain_id"])
    return Reply(None, status=204)
