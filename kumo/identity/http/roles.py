"""``/v3/roles``, implied roles, and grants on projects, domains and the system."""

from __future__ import annotations

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.identity import assignments, roles
from kumo.identity.core import SYSTEM_ALL
from kumo.identity.http import render
from kumo.identity.http.common import collection_links, link, query_filters, router
from kumo.identity.policies import policy

PROPS = {"name": v.name(255), "description": v.DESCRIPTION, "domain_id": v.NULLABLE_ID,
         "options": {"type": "object", "properties": {"immutable": {"type": ["boolean", "null"]}},
                     "additionalProperties": False}}
CREATE = v.resource("role", PROPS, required=("name",))
UPDATE = v.resource("role", PROPS)


@router.post("/v3/roles")
def create_role(call: Call):
    body = v.check(call.body, CREATE)["role"]
    policy.enforce(call.ctx, "identity:create_role")
    role = roles.create(call.db, name=body["name"], domain_id=body.get("domain_id"),
                        description=body.get("description") or "", options=body.get("options"))
    return Reply({"role": render.role(call, role)}, status=201)


@router.get("/v3/roles")
def list_roles(call: Call):
    domain_id = call.query.get("domain_id")
    policy.enforce(call.ctx, "identity:list_roles", {"domain_id": domain_id or call.ctx.domain_id})
    found = roles.list_(call.db, query_filters(call, roles.FILTERS), domain_id)
    return {"roles": [render.role(call, r) for r in found], "links": collection_links(call)}


@router.get("/v3/roles/{role_id}")
def get_role(call: Call):
    role = roles.get(call.db, call.params["role_id"])
    policy.enforce(call.ctx, "identity:get_role", {"domain_id": role.domain_id})
    return {"role": render.role(call, role)}


@router.patch("/v3/roles/{role_id}")
def update_role(call: Call):
    body = v.check(call.body, UPDATE)["role"]
    policy.enforce(call.ctx, "identity:update_role")
    return {"role": render.role(call, roles.update(call.db, call.params["role_id"], body))}


@router.delete("/v3/roles/{role_id}")
def delete_role(call: Call):
    policy.enforce(call.ctx, "identity:delete_role")
    roles.delete(call.db, call.params["role_id"])
    return Reply(None, status=204)


# -- implied roles -----------------------------------------------------------

def _inference(call: Call, prior, implied: list) -> dict:
    return {"prior_role": render.role_ref(call, prior), "implies": [render.role_ref(call, r) for r in implied]}


@router.put("/v3/roles/{prior}/implies/{implied}")
def create_implied(call: Call):
    policy.enforce(call.ctx, "identity:update_implied_roles")
    prior, implied = roles.imply(call.db, call.params["prior"], call.params["implied"])
    body = {"role_inference": {"prior_role": render.role_ref(call, prior),
                               "implies": render.role_ref(call, implied)},
            "links": link(call, f"roles/{prior.id}/implies/{implied.id}")}
    return Reply(body, status=201)


@router.route("/v3/roles/{prior}/implies/{implied}", ["GET", "HEAD"])
def get_implied(call: Call):
    policy.enforce(call.ctx, "identity:implied_roles")
    prior, implied = roles.get_implied(call.db, call.params["prior"], call.params["implied"])
    if call.method == "HEAD":
        return Reply(None, status=204)
    return {"role_inference": {"prior_role": render.role_ref(call, prior),
                               "implies": render.role_ref(call, implied)},
            "links": link(call, f"roles/{prior.id}/implies/{implied.id}")}


@router.delete("/v3/roles/{prior}/implies/{implied}")
def delete_implied(call: Call):
    policy.enforce(call.ctx, "identity:update_implied_roles")
    roles.unimply(call.db, call.params["prior"], call.params["implied"])
    return Reply(None, status=204)


@router.get("/v3/roles/{prior}/implies")
def list_implied(call: Call):
    policy.enforce(call.ctx, "identity:implied_roles")
    prior = roles.get(call.db, call.params["prior"])
    return {"role_inference": _inference(call, prior, roles.implied_by(call.db, prior.id)),
            "links": link(call, f"roles/{prior.id}/implies")}


@router.get("/v3/role_inferences")
def list_inferences(call: Call):
    policy.enforce(call.ctx, "identity:implied_roles")
    found = roles.all_inferences(call.db)
    return {"role_inferences": [_inference(call, roles.get(call.db, prior), implied)
                                for prior, implied in found.items()], "links": collection_links(call)}


# -- grants ------------------------------------------------------------------
# /v3/{projects|domains}/{target}/{users|groups}/{actor}/roles[/{role}], /v3/system/{users|groups}/...,
# and the OS-INHERIT forms ending in /inherited_to_projects.

def _grant_routes(prefix: str, target_type: str, inherited: bool = False):
    suffix = "/inherited_to_projects" if inherited else ""
    for actor_plural, actor_type in (("users", "user"), ("groups", "group")):
        base = f"{prefix}/{actor_plural}/{{actor_id}}/roles"

        def target_id(call: Call) -> str:
            return SYSTEM_ALL if target_type == "system" else call.params["target_id"]

        def grant_target(call: Call, actor_type: str) -> dict:
            return assignments.policy_target(call.db, actor_type, call.params["actor_id"], target_type,
                                             target_id(call))

        def put(call: Call, actor_type=actor_type):
            policy.enforce(call.ctx, "identity:create_grant", grant_target(call, actor_type))
            assignments.grant(call.db, actor_type, call.params["actor_id"], target_type, target_id(call),
                              call.params["role_id"], inherited)
            return Reply(None, status=204)

        def check(call: Call, actor_type=actor_type):
            policy.enforce(call.ctx, "identity:check_grant", grant_target(call, actor_type))
            assignments.check_grant(call.db, actor_type, call.params["actor_id"], target_type, target_id(call),
                                    call.params["role_id"], inherited)
            return Reply(None, status=204)

        def delete(call: Call, actor_type=actor_type):
            policy.enforce(call.ctx, "identity:revoke_grant", grant_target(call, actor_type))
            assignments.revoke(call.db, actor_type, call.params["actor_id"], target_type, target_id(call),
                               call.params["role_id"], inherited)
            return Reply(None, status=204)

        def list_(call: Call, actor_type=actor_type):
            policy.enforce(call.ctx, "identity:list_grants", grant_target(call, actor_type))
            found = assignments.grants_on(call.db, actor_type, call.params["actor_id"], target_type,
                                          target_id(call), inherited)
            return {"roles": [render.role(call, r) for r in found], "links": collection_links(call)}

        for handler in (put, check, delete, list_):
            handler.__name__ = f"{handler.__name__.strip('_')}_{target_type}_{actor_type}_grant"
        router.put(f"{base}/{{role_id}}{suffix}")(put)
        router.route(f"{base}/{{role_id}}{suffix}", ["GET", "HEAD"])(check)
        router.delete(f"{base}/{{role_id}}{suffix}")(delete)
        router.get(f"{base}{suffix}")(list_)


_grant_routes("/v3/projects/{target_id}", "project")
_grant_routes("/v3/domains/{target_id}", "domain")
_grant_routes("/v3/system", "system")
_grant_routes("/v3/OS-INHERIT/domains/{target_id}", "domain", inherited=True)
_grant_routes("/v3/OS-INHERIT/projects/{target_id}", "project", inherited=True)
