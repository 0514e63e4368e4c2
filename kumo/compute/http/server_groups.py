"""``/v2.1/os-server-groups``: create, list, show, delete. Below 2.64 a group shows ``policies`` (a list of
one) and an empty ``metadata``; from 2.64 ``policy`` and ``rules``; from 2.13 its project and user."""

from __future__ import annotations

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.compute import server_groups
from kumo.compute.http.common import at_least, int_query, router
from kumo.compute.http.servers import NAME
from kumo.compute.policies import policy

_POLICIES_21 = ["anti-affinity", "affinity"]
_POLICIES_215 = [*_POLICIES_21, "soft-anti-affinity", "soft-affinity"]


def _create_schema(policies: list[str]) -> dict:
    return {"type": "object", "required": ["server_group"], "additionalProperties": False, "properties": {
        "server_group": {"type": "object", "required": ["name", "policies"], "additionalProperties": False,
                         "properties": {"name": NAME, "policies": {
                             "type": "array", "minItems": 1, "maxItems": 1, "uniqueItems": True,
                             "items": {"type": "string", "enum": policies}}}}}}


CREATE = _create_schema(_POLICIES_21)
CREATE_215 = _create_schema(_POLICIES_215)
POSITIVE = {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 1, "minLength": 1}
CREATE_264 = {"type": "object", "required": ["server_group"], "additionalProperties": False, "properties": {
    "server_group": {"type": "object", "required": ["name", "policy"], "additionalProperties": False,
                     "properties": {"name": NAME, "policy": {"type": "string", "enum": _POLICIES_215},
                                    "rules": {"type": "object", "additionalProperties": False,
                                              "properties": {"max_server_per_host": POSITIVE}}}}}}


def render(call: Call, group, members: list[str]) -> dict:
    shown = {"id": group.id, "name": group.name}
    if at_least(call, 64):
        shown.update(policy=group.policy, rules=dict(group.rules or {}))
    else:
        shown.update(policies=[group.policy], metadata={})
    shown["members"] = members
    if at_least(call, 13):
        shown.update(project_id=group.project_id, user_id=group.user_id)
    return shown


@router.post("/v2.1/os-server-groups")
def create_server_group(call: Call):
    ctx = call.ctx
    policy.enforce(ctx, "os_compute_api:os-server-groups:create", {"project_id": ctx.project_id})
    if at_least(call, 64):
        body = v.check(call.body, CREATE_264)["server_group"]
        chosen, rules = body["policy"], body.get("rules") or {}
    else:
        body = v.check(call.body, CREATE_215 if at_least(call, 15) else CREATE)["server_group"]
        chosen, rules = body["policies"][0], {}
    group = server_groups.create(call.db, ctx, name=body["name"], policy=chosen, rules=rules)
    return {"server_group": render(call, group, [])}


@router.get("/v2.1/os-server-groups")
def list_server_groups(call: Call):
    ctx = call.ctx
    policy.enforce(ctx, "os_compute_api:os-server-groups:index", {"project_id": ctx.project_id})
    project_id = ctx.project_id or ""  # a token scoped to no project: no project's groups
    if "all_projects" in call.query:
        policy.enforce(ctx, "os_compute_api:os-server-groups:index:all_projects", {"project_id": ctx.project_id})
        project_id = None
    limit = int_query(call, "limit")
    found = server_groups.list_(call.db, project_id, limit=min(limit, 1000) if limit is not None else 1000,
                                offset=int_query(call, "offset") or 0)
    in_groups = server_groups.members(call.db, [g.id for g in found])
    return {"server_groups": [render(call, g, in_groups[g.id]) for g in found]}


def _group(call: Call, action: str, write: bool = False):
    group = server_groups.get(call.db, call.ctx, call.params["group_id"], for_update=write)
    policy.enforce(call.ctx, action, {"project_id": group.project_id, "user_id": group.user_id})
    return group


@router.get("/v2.1/os-server-groups/{group_id}")
def show_server_group(call: Call):
    group = _group(call, "os_compute_api:os-server-groups:show")
    return {"server_group": render(call, group, server_groups.members(call.db, [group.id])[group.id])}


@router.delete("/v2.1/os-server-groups/{group_id}")
def delete_server_group(call: Call):
    group = _group(call, "os_compute_api:os-server-groups:delete", write=True)
    server_groups.delete(call.db, group)
    return Reply(None, status=204)
