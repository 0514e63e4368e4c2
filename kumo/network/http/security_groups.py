"""``/v2.0/security-groups`` and ``/v2.0/security-group-rules``."""

from __future__ import annotations

import sqlalchemy as sa

from kumo.api.routing import Call
from kumo.errors import BadRequest
from kumo.network import quotas
from kumo.network import security_groups as groups
from kumo.network.http.common import (body_for_update, bulk_or_single, check_keys, deleted, fields, isotime,
                                      listing, owner_for_create, router, scope, standard, take_tags, touch)
from kumo.network.models import SecurityGroup, SecurityGroupRule
from kumo.network.policies import policy

GROUP_COLUMNS = {"id": SecurityGroup.id, "name": SecurityGroup.name, "description": SecurityGroup.description,
                 "project_id": SecurityGroup.project_id, "tenant_id": SecurityGroup.project_id,
                 "stateful": SecurityGroup.stateful, "created_at": SecurityGroup.created_at,
                 "updated_at": SecurityGroup.updated_at, "revision_number": SecurityGroup.revision_number}
RULE_COLUMNS = {"id": SecurityGroupRule.id, "security_group_id": SecurityGroupRule.security_group_id,
                "direction": SecurityGroupRule.direction, "ethertype": SecurityGroupRule.ethertype,
                "protocol": SecurityGroupRule.protocol, "port_range_min": SecurityGroupRule.port_range_min,
                "port_range_max": SecurityGroupRule.port_range_max,
                "remote_ip_prefix": SecurityGroupRule.remote_ip_prefix,
                "remote_group_id": SecurityGroupRule.remote_group_id, "project_id": SecurityGroupRule.project_id,
                "tenant_id": SecurityGroupRule.project_id, "description": SecurityGroupRule.description,
                "created_at": SecurityGroupRule.created_at}
RULE_KEYS = {"security_group_id", "direction", "ethertype", "protocol", "port_range_min", "port_range_max",
             "remote_ip_prefix", "remote_group_id", "description", "project_id", "tenant_id"}


def render_rule(r: SecurityGroupRule) -> dict:
    return {"id": r.id, "security_group_id": r.security_group_id, "direction": r.direction,
            "ethertype": r.ethertype, "protocol": r.protocol, "port_range_min": r.port_range_min,
            "port_range_max": r.port_range_max, "remote_ip_prefix": r.remote_ip_prefix,
            "normalized_cidr": r.remote_ip_prefix, "remote_group_id": r.remote_group_id,
            "remote_address_group_id": r.remote_address_group_id, "description": r.description or "",
            "project_id": r.project_id, "tenant_id": r.project_id, "created_at": isotime(r.created_at),
            "updated_at": isotime(r.updated_at), "revision_number": r.revision_number, "belongs_to_default_sg": None}


def render_groups(call: Call, rows: list[SecurityGroup]) -> list[dict]:
    rules = groups.rules_of(call.db, [g.id for g in rows])
    return [{"id": g.id, "name": g.name, "stateful": g.stateful, "shared": False,
             "security_group_rules": [render_rule(r) for r in rules[g.id]], **standard(g)} for g in rows]


def render_rules(call: Call, rows: list[SecurityGroupRule]) -> list[dict]:
    return [render_rule(r) for r in rows]


@router.post("/v2.0/security-groups")
def create_group(call: Call):
    def create_one(item: dict) -> dict:
        check_keys(item, {"name", "description", "project_id", "tenant_id", "stateful", "tags"})
        policy.enforce(call.ctx, "create")
        group = groups.create(call.db, project_id=owner_for_create(call, item, "security_group"), name=item.get("name") or "",
                              description=item.get("description") or "", stateful=item.get("stateful", True))
        take_tags(group, item)
        return render_groups(call, [group])[0]
    return bulk_or_single(call, "security_group", "security_groups", create_one)


@router.route("/v2.0/security-groups", ["GET"], write=True)  # may create the project's default group
def list_groups(call: Call):
    if call.ctx.project_id:
        groups.default_group(call.db, call.ctx.project_id)
    query = scope(sa.select(SecurityGroup), SecurityGroup, call.ctx)
    return listing(call, query, SecurityGroup, GROUP_COLUMNS, render_groups, "security_groups")


@router.get("/v2.0/security-groups/{group_id}")
def show_group(call: Call):
    group = groups.get(call.db, call.ctx, call.params["group_id"])
    return {"security_group": fields(call, render_groups(call, [group])[0])}


@router.put("/v2.0/security-groups/{group_id}")
def update_group(call: Call):
    item = body_for_update(call, "security_group")
    check_keys(item, {"name", "description", "stateful", "tags"}, read_only={"id", "project_id", "tenant_id"})
    group = groups.get(call.db, call.ctx, call.params["group_id"])
    policy.enforce(call.ctx, "update", {"project_id": group.project_id})
    groups.update(call.db, group, item)
    take_tags(group, item)
    touch(group)
    return {"security_group": render_groups(call, [group])[0]}


@router.delete("/v2.0/security-groups/{group_id}")
def delete_group(call: Call):
    group = groups.get(call.db, call.ctx, call.params["group_id"])
    policy.enforce(call.ctx, "delete", {"project_id": group.project_id})
    groups.delete(call.db, call.ctx, group)
    return deleted()


@router.post("/v2.0/security-group-rules")
def create_rule(call: Call):
    def create_one(item: dict) -> dict:
        check_keys(item, RULE_KEYS)
        if not item.get("security_group_id"):
            raise BadRequest("Failed to parse request. Required attribute 'security_group_id' not specified",
                             kind="HTTPBadRequest")
        group = groups.get(call.db, call.ctx, item["security_group_id"])
        policy.enforce(call.ctx, "update", {"project_id": group.project_id})
        quotas.check(call.db, group.project_id, "security_group_rule")
        rule = groups.create_rule(
            call.db, call.ctx, group, project_id=group.project_id, direction=item.get("direction"),
            ethertype=item.get("ethertype", "IPv4"), protocol=item.get("protocol"),
            port_range_min=item.get("port_range_min"), port_range_max=item.get("port_range_max"),
            remote_ip_prefix=item.get("remote_ip_prefix"), remote_group_id=item.get("remote_group_id"),
            description=item.get("description") or "")
        touch(group)
        return render_rule(rule)
    return bulk_or_single(call, "security_group_rule", "security_group_rules", create_one)


@router.get("/v2.0/security-group-rules")
def list_rules(call: Call):
    query = scope(sa.select(SecurityGroupRule), SecurityGroupRule, call.ctx)
    return listing(call, query, SecurityGroupRule, RULE_COLUMNS, render_rules, "security_group_rules")


@router.get("/v2.0/security-group-rules/{rule_id}")
def show_rule(call: Call):
    return {"security_group_rule": fields(call, render_rule(groups.get_rule(call.db, call.ctx,
                                                                             call.params["rule_id"])))}


@router.delete("/v2.0/security-group-rules/{rule_id}")
def delete_rule(call: Call):
    rule = groups.get_rule(call.db, call.ctx, call.params["rule_id"])
    policy.enforce(call.ctx, "delete", {"project_id": rule.project_id})
    call.db.delete(rule)
    return deleted()
