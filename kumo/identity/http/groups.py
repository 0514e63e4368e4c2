"""``/v3/groups``, their members, and ``/v3/users/{id}/groups``."""

from __future__ import annotations

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.identity import groups, users
from kumo.identity.core import DEFAULT_DOMAIN_ID
from kumo.identity.http import render
from kumo.identity.http.common import collection_links, query_filters, router
from kumo.identity.policies import policy

PROPS = {"name": v.name(64), "description": v.DESCRIPTION, "domain_id": v.ID}
CREATE = v.resource("group", PROPS, required=("name",))
UPDATE = v.resource("group", PROPS)
KNOWN = set(PROPS) | {"id", "links"}


def _target(group) -> dict:
    return {"id": group.id, "group_id": group.id, "domain_id": group.domain_id}


def _extra(body: dict) -> dict:
    return {k: val for k, val in body.items() if k not in KNOWN}


def _domain_filter(call: Call, filters: dict) -> dict:
    """A domain-scoped reader sees its own domain only."""
    ctx = call.ctx
    if not (ctx.is_admin or ctx.system) and ctx.domain_id:
        filters["domain_id"] = ctx.domain_id
    return filters


@router.post("/v3/groups")
def create_group(call: Call):
    body = v.check(call.body, CREATE)["group"]
    ctx = call.ctx
    domain_id = body.get("domain_id") or ctx.domain_id or ctx.project_domain_id or DEFAULT_DOMAIN_ID
    policy.enforce(ctx, "identity:create_group", {"domain_id": domain_id})
    group = groups.create(call.db, name=body["name"], domain_id=domain_id,
                          description=body.get("description") or "", extra=_extra(body))
    return Reply({"group": render.group(call, group)}, status=201)


@router.get("/v3/groups")
def list_groups(call: Call):
    ctx = call.ctx
    filters = query_filters(call, groups.FILTERS)
    policy.enforce(ctx, "identity:list_groups", {"domain_id": filters.get("domain_id", ctx.domain_id)})
    found = groups.list_(call.db, _domain_filter(call, filters))
    return {"groups": [render.group(call, g) for g in found], "links": collection_links(call)}


@router.get("/v3/groups/{group_id}")
def get_group(call: Call):
    group = groups.get(call.db, call.params["group_id"])
    policy.enforce(call.ctx, "identity:get_group", _target(group))
    return {"group": render.group(call, group)}


@router.patch("/v3/groups/{group_id}")
def update_group(call: Call):
    body = v.check(call.body, UPDATE)["group"]
    group = groups.get(call.db, call.params["group_id"])
    policy.enforce(call.ctx, "identity:update_group", _target(group))
    group = groups.update(call.db, group.id, body, _extra(body))
    return {"group": render.group(call, group)}


@router.delete("/v3/groups/{group_id}")
def delete_group(call: Call):
    group = groups.get(call.db, call.params["group_id"])
    policy.enforce(call.ctx, "identity:delete_group", _target(group))
    groups.delete(call.db, group.id)
    return Reply(None, status=204)


# -- membership ----------------------------------------------------------------

@router.get("/v3/groups/{group_id}/users")
def list_group_users(call: Call):
    group = groups.get(call.db, call.params["group_id"])
    policy.enforce(call.ctx, "identity:list_users_in_group", _target(group))
    found = users.list_(call.db, query_filters(call, users.FILTERS), group_id=group.id)
    return {"users": [render.user(call, u, users.password_expires_at(call.db, u.id)) for u in found],
            "links": collection_links(call)}


@router.put("/v3/groups/{group_id}/users/{user_id}")
def add_group_user(call: Call):
    group = groups.get(call.db, call.params["group_id"])
    policy.enforce(call.ctx, "identity:add_user_to_group", _target(group))
    groups.add_user(call.db, group.id, call.params["user_id"])
    return Reply(None, status=204)


@router.route("/v3/groups/{group_id}/users/{user_id}", ["GET", "HEAD"])
def check_group_user(call: Call):
    group = groups.get(call.db, call.params["group_id"])
    policy.enforce(call.ctx, "identity:check_user_in_group", _target(group))
    groups.check_user(call.db, group.id, call.params["user_id"])
    return Reply(None, status=204)


@router.delete("/v3/groups/{group_id}/users/{user_id}")
def remove_group_user(call: Call):
    group = groups.get(call.db, call.params["group_id"])
    policy.enforce(call.ctx, "identity:remove_user_from_group", _target(group))
    groups.remove_user(call.db, group.id, call.params["user_id"])
    return Reply(None, status=204)


@router.get("/v3/users/{user_id}/groups")
def list_user_groups(call: Call):
    user = users.get(call.db, call.params["user_id"])
    policy.enforce(call.ctx, "identity:list_groups_for_user", {"user_id": user.id, "domain_id": user.domain_id})
    found = groups.list_(call.db, query_filters(call, groups.FILTERS), user_id=user.id)
    # Keystone shows when each membership expires (only federated ones do)
    return {"groups": [{**render.group(call, g), "membership_expires_at": None} for g in found],
            "links": collection_links(call)}
