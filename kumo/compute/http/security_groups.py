"""``/v2.1/os-security-groups`` (Nova's proxy to networking, ≤ 2.35) and a server's groups."""

from __future__ import annotations

import sqlalchemy as sa

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.compute import network
from kumo.compute.http.common import at_least, find_server, router
from kumo.compute.policies import policy
from kumo.errors import NotFound

TEXT = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"}  # Nova: not blank
DESCRIPTION = {"type": "string", "maxLength": 255, "pattern": r"^[^\x00-\x1f]*$"}
BODY = {"type": "object", "required": ["security_group"], "properties": {"security_group": {
    "type": "object", "required": ["name", "description"], "properties": {"name": TEXT, "description": DESCRIPTION}}}}


def _check(call: Call, action: str = "os_compute_api:os-security-groups:list") -> None:
    if at_least(call, 36):
        raise NotFound("The resource could not be found.")
    policy.enforce(call.ctx, action, {"project_id": call.ctx.project_id})


def _shown(db, groups: list) -> list[dict]:
    from kumo.network.models import SecurityGroup

    rules = network.rules_of(db, [g.id for g in groups])
    remote_ids = {r.remote_group_id for rs in rules.values() for r in rs if r.remote_group_id}
    remotes = {g.id: g for g in db.scalars(sa.select(SecurityGroup).where(SecurityGroup.id.in_(remote_ids)))} \
        if remote_ids else {}
    shown = []
    for group in groups:
        items = []
        for rule in rules[group.id]:
            if rule.direction != "ingress":
                continue  # Nova shows ingress rules only
            remote = remotes.get(rule.remote_group_id)
            items.append({"id": rule.id, "parent_group_id": group.id, "ip_protocol": rule.protocol,
                          "from_port": rule.port_range_min if rule.port_range_min is not None else -1,
                          "to_port": rule.port_range_max if rule.port_range_max is not None else -1,
                          "group": {"name": remote.name, "tenant_id": remote.project_id} if remote else {},
                          "ip_range": {"cidr": rule.remote_ip_prefix} if rule.remote_ip_prefix else
                          ({} if remote else {"cidr": "0.0.0.0/0"})})
        shown.append({"id": group.id, "name": group.name, "description": group.description or "",
                      "tenant_id": group.project_id, "rules": items})
    return shown


@router.route("/v2.1/os-security-groups", ["GET"], write=True)  # may create the default group
def list_groups(call: Call):
    _check(call)
    ctx = call.ctx
    all_projects = ctx.is_admin and call.query.get("all_tenants") not in (None, "0", "false", "False")
    groups = network.list_groups(call.db, ctx, None if all_projects else ctx.project_id)
    return {"security_groups": _shown(call.db, groups)}


@router.post("/v2.1/os-security-groups")
def create_group(call: Call):
    _check(call)
    body = v.check(call.body, BODY)["security_group"]
    group = network.create_group(call.db, call.ctx.project_id, body["name"], body["description"])
    return {"security_group": _shown(call.db, [group])[0]}


@router.get("/v2.1/os-security-groups/{group_id}")
def show_group(call: Call):
    _check(call)
    return {"security_group": _shown(call.db, [network.get_group(call.db, call.ctx, call.params["group_id"])])[0]}


@router.put("/v2.1/os-security-groups/{group_id}")
def update_group(call: Call):
    _check(call)
    body = v.check(call.body, BODY)["security_group"]
    group = network.get_group(call.db, call.ctx, call.params["group_id"])
    network.update_group(call.db, group, body["name"], body["description"])
    return {"security_group": _shown(call.db, [group])[0]}


@router.delete("/v2.1/os-security-groups/{group_id}")
def delete_group(call: Call):
    _check(call)
    network.delete_group(call.db, call.ctx, network.get_group(call.db, call.ctx, call.params["group_id"]))
    return Reply(None, status=202)


@router.route("/v2.1/servers/{server_id}/os-security-groups", ["GET"], write=True)
def server_groups(call: Call):
    if at_least(call, 36):
        raise NotFound("The resource could not be found.")
    server = find_server(call, "os_compute_api:os-security-groups:list")
    return {"security_groups": _shown(call.db, network.groups_of_server(call.db, server.project_id,
                                                                          server.security_groups))}
