"""``/v3/users``: users, their projects, their own password."""

from __future__ import annotations

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.identity import assignments, users
from kumo.identity.core import DEFAULT_DOMAIN_ID
from kumo.identity.http import render
from kumo.identity.http.common import collection_links, query_filters, router
from kumo.identity.policies import policy

PASSWORD = {"type": ["string", "null"], "maxLength": 4096}
PROPS = {"name": v.name(255), "domain_id": v.ID, "password": PASSWORD, "enabled": v.BOOLEAN,
         "default_project_id": v.NULLABLE_ID, "description": v.DESCRIPTION,
         "options": {"type": "object", "properties": {
             "ignore_change_password_upon_first_use": {"type": ["boolean", "null"]},
             "ignore_password_expiry": {"type": ["boolean", "null"]},
             "ignore_lockout_failure_attempts": {"type": ["boolean", "null"]},
             "lock_password": {"type": ["boolean", "null"]},
             "ignore_user_inactivity": {"type": ["boolean", "null"]},
             "multi_factor_auth_rules": {"type": ["array", "null"]},
             "multi_factor_auth_enabled": {"type": ["boolean", "null"]}}, "additionalProperties": False}}
CREATE = v.resource("user", PROPS, required=("name",))
UPDATE = v.resource("user", PROPS)
CHANGE_PASSWORD = {"type": "object", "required": ["user"], "properties": {"user": {
    "type": "object", "required": ["password", "original_password"],
    "properties": {"password": {"type": "string", "maxLength": 4096},
                   "original_password": {"type": "string", "maxLength": 4096}}}}}
KNOWN = set(PROPS) | {"id", "links", "password_expires_at"}


def _render(call: Call, user) -> dict:
    return render.user(call, user, users.password_expires_at(call.db, user.id))


def _target(user) -> dict:
    return {"id": user.id, "user_id": user.id, "domain_id": user.domain_id}


@router.post("/v3/users")
def create_user(call: Call):
    body = v.check(call.body, CREATE)["user"]
    ctx = call.ctx
    domain_id = body.get("domain_id") or ctx.domain_id or ctx.project_domain_id or DEFAULT_DOMAIN_ID
    policy.enforce(ctx, "identity:create_user", {"domain_id": domain_id})
    extra = {k: val for k, val in body.items() if k not in KNOWN}
    user = users.create(call.cloud.identity, call.db, name=body["name"], domain_id=domain_id,
                        password=body.get("password"), enabled=body.get("enabled", True),
                        default_project_id=body.get("default_project_id"),
                        description=body.get("description") or "", options=body.get("options"), extra=extra)
    return Reply({"user": _render(call, user)}, status=201)


@router.get("/v3/users")
def list_users(call: Call):
    ctx = call.ctx
    filters = query_filters(call, users.FILTERS)
    policy.enforce(ctx, "identity:list_users", {"domain_id": filters.get("domain_id", ctx.domain_id)})
    if not (ctx.is_admin or ctx.system) and ctx.domain_id:
        filters["domain_id"] = ctx.domain_id
    return {"users": [_render(call, u) for u in users.list_(call.db, filters)], "links": collection_links(call)}


@router.get("/v3/users/{user_id}")
def get_user(call: Call):
    user = users.get(call.db, call.params["user_id"])
    policy.enforce(call.ctx, "identity:get_user", _target(user))
    return {"user": _render(call, user)}


@router.patch("/v3/users/{user_id}")
def update_user(call: Call):
    body = v.check(call.body, UPDATE)["user"]
    user = users.get(call.db, call.params["user_id"])
    policy.enforce(call.ctx, "identity:update_user", _target(user))
    user = users.update(call.cloud.identity, call.db, user.id, body)
    extra = {k: val for k, val in body.items() if k not in KNOWN}
    if extra:
        user.extra = {**user.extra, **extra}
    return {"user": _render(call, user)}


@router.delete("/v3/users/{user_id}")
def delete_user(call: Call):
    user = users.get(call.db, call.params["user_id"])
    policy.enforce(call.ctx, "identity:delete_user", _target(user))
    users.delete(call.db, user.id)
    return Reply(None, status=204)


@router.get("/v3/users/{user_id}/projects")
def list_user_projects(call: Call):
    user = users.get(call.db, call.params["user_id"])
    policy.enforce(call.ctx, "identity:list_user_projects", _target(user))
    found = assignments.projects_of_user(call.db, user.id)
    filters = query_filters(call, ("name", "enabled", "domain_id"))
    if filters:
        from kumo.db.filters import as_bool
        found = [p for p in found if ("name" not in filters or p.name == filters["name"])
                 and ("domain_id" not in filters or p.domain_id == filters["domain_id"])
                 and ("enabled" not in filters or p.enabled == as_bool(filters["enabled"]))]
    return {"projects": [render.project(call, p) for p in found], "links": collection_links(call)}


@router.post("/v3/users/{user_id}/password", write=False)
def change_password(call: Call):
    """Self-service: the original password is the credential (Keystone needs no token here). Like a login,
    it runs in a read transaction (a failure is recorded for lockout); the change makes its own."""
    body = v.check(call.body, CHANGE_PASSWORD)["user"]
    users.change_own_password(call.cloud.identity, call.db, call.params["user_id"],
                              body["original_password"], body["password"])
    return Reply(None, status=204)
