"""``/v2.0/subnetpools``."""

from __future__ import annotations

import sqlalchemy as sa

from kumo.api.routing import Call
from kumo.errors import BadRequest
from kumo.network import subnetpools
from kumo.network.http.common import (body_for_update, bulk_or_single, check_keys, deleted, fields, listing,
                                      owner_for_create, router, scope, standard, take_tags, touch)
from kumo.network.models import SubnetPool
from kumo.network.policies import policy

COLUMNS = {"id": SubnetPool.id, "name": SubnetPool.name, "ip_version": SubnetPool.ip_version,
           "shared": SubnetPool.shared, "is_default": SubnetPool.is_default, "project_id": SubnetPool.project_id,
           "tenant_id": SubnetPool.project_id, "default_prefixlen": SubnetPool.default_prefixlen,
           "min_prefixlen": SubnetPool.min_prefixlen, "max_prefixlen": SubnetPool.max_prefixlen,
           "description": SubnetPool.description, "created_at": SubnetPool.created_at,
           "updated_at": SubnetPool.updated_at, "revision_number": SubnetPool.revision_number}
WRITABLE = {"name", "prefixes", "default_prefixlen", "min_prefixlen", "max_prefixlen", "shared", "is_default",
            "project_id", "tenant_id", "description", "default_quota", "address_scope_id", "tags"}


def render_many(call: Call, rows: list[SubnetPool]) -> list[dict]:
    return [{"id": p.id, "name": p.name, "ip_version": p.ip_version, "prefixes": list(p.prefixes),
             "default_prefixlen": p.default_prefixlen, "min_prefixlen": p.min_prefixlen,
             "max_prefixlen": p.max_prefixlen, "shared": p.shared, "is_default": p.is_default,
             "default_quota": p.default_quota, "address_scope_id": p.address_scope_id, **standard(p)}
            for p in rows]


@router.post("/v2.0/subnetpools")
def create_pool(call: Call):
    def create_one(item: dict) -> dict:
        check_keys(item, WRITABLE)
        if "name" not in item or "prefixes" not in item:
            raise BadRequest("Failed to parse request. Required attributes 'name' and 'prefixes' not specified",
                             kind="HTTPBadRequest")
        policy.enforce(call.ctx, "create")
        if item.get("shared") or item.get("is_default"):
            policy.enforce(call.ctx, "admin_only")
        pool = subnetpools.create(
            call.db, project_id=owner_for_create(call, item, "subnetpool"), name=item["name"] or "", prefixes=item["prefixes"],
            default_prefixlen=item.get("default_prefixlen"), min_prefixlen=item.get("min_prefixlen"),
            max_prefixlen=item.get("max_prefixlen"), shared=bool(item.get("shared")),
            is_default=bool(item.get("is_default")), description=item.get("description") or "",
            default_quota=item.get("default_quota"))
        take_tags(pool, item)
        return render_many(call, [pool])[0]
    return bulk_or_single(call, "subnetpool", "subnetpools", create_one)


@router.get("/v2.0/subnetpools")
def list_pools(call: Call):
    query = scope(sa.select(SubnetPool), SubnetPool, call.ctx, SubnetPool.shared.is_(True))
    return listing(call, query, SubnetPool, COLUMNS, render_many, "subnetpools")


@router.get("/v2.0/subnetpools/{pool_id}")
def show_pool(call: Call):
    pool = subnetpools.get(call.db, call.ctx, call.params["pool_id"])
    return {"subnetpool": fields(call, render_many(call, [pool])[0])}


@router.put("/v2.0/subnetpools/{pool_id}")
def update_pool(call: Call):
    item = body_for_update(call, "subnetpool")
    check_keys(item, WRITABLE - {"project_id", "tenant_id", "shared"}, read_only={"id", "ip_version"})
    pool = subnetpools.get(call.db, call.ctx, call.params["pool_id"])
    policy.enforce(call.ctx, "update", {"project_id": pool.project_id})
    if "is_default" in item:
        policy.enforce(call.ctx, "admin_only")
    subnetpools.update(call.db, pool, item)
    take_tags(pool, item)
    touch(pool)
    return {"subnetpool": render_many(call, [pool])[0]}


@router.delete("/v2.0/subnetpools/{pool_id}")
def delete_pool(call: Call):
    pool = subnetpools.get(call.db, call.ctx, call.params["pool_id"])
    policy.enforce(call.ctx, "delete", {"project_id": pool.project_id})
    subnetpools.delete(call.db, pool)
    return deleted()
