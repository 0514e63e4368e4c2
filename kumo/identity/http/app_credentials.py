"""``/v3/users/{user_id}/application_credentials`` and ``/v3/users/{user_id}/access_rules``."""

from __future__ import annotations

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.identity import app_credentials
from kumo.identity.http import render
from kumo.identity.http.common import collection_links, link, router
from kumo.identity.policies import policy

ROLE_REF = {"type": "object", "additionalProperties": False,
            "properties": {"id": v.ID, "name": v.name(255), "domain_id": v.NULLABLE_ID},
            "anyOf": [{"required": ["id"]}, {"required": ["name"]}]}
ACCESS_RULE = {"type": "object", "additionalProperties": False,
               "properties": {"id": v.ID, "service": {"type": "string", "minLength": 1, "maxLength": 64},
                              "path": {"type": "string", "minLength": 1, "maxLength": 255},
                              "method": {"type": "string",
                                         "enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]}},
               "anyOf": [{"required": ["id"]}, {"required": ["service", "path", "method"]}]}
CREATE = v.resource("application_credential", {
    "name": v.name(255), "description": v.DESCRIPTION,
    "secret": {"type": ["string", "null"], "minLength": 1, "maxLength": 4096},
    "expires_at": {"type": ["string", "null"]},
    "roles": {"type": "array", "items": ROLE_REF},
    "unrestricted": {"type": ["boolean", "null"]},
    "access_rules": {"type": "array", "items": ACCESS_RULE},
}, required=("name",), additional=False)

BASE = "/v3/users/{user_id}/application_credentials"
RULES = "/v3/users/{user_id}/access_rules"


def _render(call: Call, cred) -> dict:
    rules = [_rule(call, r) for r in app_credentials.access_rules_of(call.db, cred)]
    return render.app_credential(call, cred, app_credentials.roles_of(call.db, cred), rules)


def _rule(call: Call, rule, with_links: bool = False) -> dict:
    body = {"id": rule.id, "service": rule.service, "path": rule.path, "method": rule.method}
    if with_links:
        body["links"] = link(call, f"users/{rule.user_id}/access_rules/{rule.id}")
    return body


def _target(call: Call) -> dict:
    return {"user_id": call.params["user_id"]}


@router.post(BASE)
def create_app_credential(call: Call):
    body = v.check(call.body, CREATE)["application_credential"]
    policy.enforce(call.ctx, "identity:create_application_credential", _target(call))
    cred, secret = app_credentials.create(
        call.cloud.identity, call.db, call.ctx, call.params["user_id"], name=body["name"],
        description=body.get("description") or "", secret=body.get("secret"), expires_at=body.get("expires_at"),
        roles=body.get("roles"), unrestricted=bool(body.get("unrestricted")),
        access_rules=body.get("access_rules"))
    return Reply({"application_credential": {**_render(call, cred), "secret": secret}}, status=201)


@router.get(BASE)
def list_app_credentials(call: Call):
    policy.enforce(call.ctx, "identity:application_credentials", _target(call))
    found = app_credentials.list_(call.db, call.params["user_id"], call.query.get("name"))
    return {"application_credentials": [_render(call, c) for c in found], "links": collection_links(call)}


@router.get(BASE + "/{cred_id}")
def get_app_credential(call: Call):
    policy.enforce(call.ctx, "identity:application_credentials", _target(call))
    cred = app_credentials.get(call.db, call.params["user_id"], call.params["cred_id"])
    return {"application_credential": _render(call, cred)}


@router.delete(BASE + "/{cred_id}")
def delete_app_credential(call: Call):
    policy.enforce(call.ctx, "identity:delete_application_credential", _target(call))
    app_credentials.delete(call.db, call.ctx, call.params["user_id"], call.params["cred_id"])
    return Reply(None, status=204)


@router.get(RULES)
def list_access_rules(call: Call):
    policy.enforce(call.ctx, "identity:access_rules", _target(call))
    filters = {k: call.query.get(k) for k in app_credentials.ACCESS_RULE_FILTERS if call.query.get(k)}
    found = app_credentials.list_access_rules(call.db, call.params["user_id"], filters)
    return {"access_rules": [_rule(call, r, with_links=True) for r in found], "links": collection_links(call)}


@router.get(RULES + "/{rule_id}")
def get_access_rule(call: Call):
    policy.enforce(call.ctx, "identity:access_rules", _target(call))
    rule = app_credentials.get_access_rule(call.db, call.params["user_id"], call.params["rule_id"])
    return {"access_rule": _rule(call, rule, with_links=True)}


@router.delete(RULES + "/{rule_id}")
def delete_access_rule(call: Call):
    policy.enforce(call.ctx, "identity:delete_access_rule", _target(call))
    app_credentials.delete_access_rule(call.db, call.params["user_id"], call.params["rule_id"])
    return Reply(None, status=204)
