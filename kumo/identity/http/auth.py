"""``/v3/auth``: tokens, and what a token may reach (catalog, projects, domains, system)."""

from __future__ import annotations

from kumo.api import validation
from kumo.api.routing import Call, Reply
from kumo.errors import BadRequest, Forbidden
from kumo.identity import assignments, tokens
from kumo.identity.http import render
from kumo.identity.http.common import collection_links, isotime, link, router
from kumo.identity.policies import policy
from kumo.identity.tokens import TokenData

AUTH_SCHEMA = {"type": "object", "required": ["auth"],
               "properties": {"auth": {"type": "object", "required": ["identity"],
                                       "properties": {"identity": {"type": "object", "required": ["methods"],
                                                                   "properties": {"methods": {
                                                                       "type": "array", "minItems": 1,
                                                                       "items": {"type": "string"}}}},
                                                      "scope": {"type": ["object", "string"]}}}}}


def token_body(call: Call, data: TokenData, with_catalog: bool = True) -> dict:
    found = data.rendered.get(with_catalog)
    if found is None:
        found = data.rendered[with_catalog] = _token_body(data, with_catalog)
    return found


def _token_body(data: TokenData, with_catalog: bool) -> dict:
    user = data.user
    body = {
        "methods": list(data.payload.methods),
        "user": {"id": user.id, "name": user.name, "domain": render.domain_ref(data.user_domain),
                 "password_expires_at": isotime(data.password_expires_at)},
        "audit_ids": list(data.payload.audit_ids),
        "expires_at": isotime(data.expires_at),
        "issued_at": isotime(data.issued_at),
    }
    if data.project is not None:
        body["project"] = {"id": data.project.id, "name": data.project.name,
                           "domain": render.domain_ref(data.project_domain)}
        body["is_domain"] = False
    elif data.domain is not None:
        body["domain"] = render.domain_ref(data.domain)
    elif data.system:
        body["system"] = {"all": True}
    if data.project is not None or data.domain is not None or data.system:
        body["roles"] = [{"id": r.id, "name": r.name} for r in data.roles]
        if with_catalog:
            body["catalog"] = data.catalog
    if data.app_cred is not None:
        body["application_credential"] = {"id": data.app_cred.id, "name": data.app_cred.name,
                                          "restricted": not data.app_cred.unrestricted}
    return {"token": body}


def _wants_catalog(call: Call) -> bool:
    return call.query.get("nocatalog") is None


@router.post("/v3/auth/tokens", write=False)
def issue_token(call: Call):
    validation.check(call.body, AUTH_SCHEMA)
    token, data = tokens.issue(call.cloud.identity, call.db, call.body["auth"])
    return Reply(token_body(call, data, _wants_catalog(call)), status=201, headers={"X-Subject-Token": token})


def _subject(call: Call) -> TokenData:
    subject = call.headers.get("x-subject-token")
    if not subject:
        raise BadRequest("X-Subject-Token is required.")
    ctx = call.ctx
    data = tokens.validate(call.cloud.identity, call.db, subject)
    policy.enforce(ctx, "identity:validate_token", {"token_user_id": data.user.id})
    return data


@router.get("/v3/auth/tokens")
def validate_token(call: Call):
    data = _subject(call)
    return Reply(token_body(call, data, _wants_catalog(call)),
                 headers={"X-Subject-Token": call.headers["x-subject-token"]})


@router.head("/v3/auth/tokens")
def check_token(call: Call):
    _subject(call)
    return Reply(None, status=200)


@router.delete("/v3/auth/tokens")
def revoke_token(call: Call):
    subject = call.headers.get("x-subject-token")
    if not subject:
        raise BadRequest("X-Subject-Token is required.")
    ctx = call.ctx
    data = tokens.validate(call.cloud.identity, call.db, subject)
    policy.enforce(ctx, "identity:revoke_token", {"token_user_id": data.user.id})
    tokens.revoke(call.cloud.identity, call.db, data)
    return Reply(None, status=204)


@router.get("/v3/auth/catalog")
def auth_catalog(call: Call):
    policy.enforce(call.ctx, "identity:get_auth_catalog")
    if not call.ctx.project_id:  # as Keystone: only a project-scoped token has a catalog to show here
        raise Forbidden("A project-scoped token is required to produce a service catalog.")
    data = tokens.validate(call.cloud.identity, call.db, call._token)
    return {"catalog": data.catalog, "links": link(call, "auth/catalog")}


@router.get("/v3/auth/projects")
def auth_projects(call: Call):
    policy.enforce(call.ctx, "identity:get_auth_projects")
    found = [p for p in assignments.projects_of_user(call.db, call.ctx.user_id) if p.enabled]
    return {"projects": [render.project(call, p) for p in found], "links": collection_links(call)}


@router.get("/v3/auth/domains")
def auth_domains(call: Call):
    policy.enforce(call.ctx, "identity:get_auth_domains")
    found = [d for d in assignments.domains_of_user(call.db, call.ctx.user_id) if d.enabled]
    return {"domains": [render.domain(call, d) for d in found], "links": collection_links(call)}


@router.get("/v3/auth/system")
def auth_system(call: Call):
    policy.enforce(call.ctx, "identity:get_auth_system")
    system = [{"all": True}] if assignments.has_system_role(call.db, call.ctx.user_id) else []
    return {"system": system, "links": link(call, "auth/system")}
