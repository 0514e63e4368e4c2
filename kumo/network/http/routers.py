"""``/v2.0/routers`` and their interfaces."""

from __future__ import annotations

import sqlalchemy as sa

from kumo.api.routing import Call
from kumo.errors import BadRequest
from kumo.network import ipam, routers
from kumo.network.http.common import (body_for_update, bulk_or_single, check_keys, deleted, fields, listing,
                                      owner_for_create, router, scope, standard, take_tags, touch)
from kumo.network.models import Router
from kumo.network.policies import policy

COLUMNS = {"id": Router.id, "name": Router.name, "admin_state_up": Router.admin_state_up, "status": Router.status,
           "project_id": Router.project_id, "tenant_id": Router.project_id, "description": Router.description,
           "distributed": Router.distributed, "ha": Router.ha, "created_at": Router.created_at,
           "updated_at": Router.updated_at, "revision_number": Router.revision_number}
WRITABLE = {"name", "admin_state_up", "external_gateway_info", "project_id", "tenant_id", "description",
            "availability_zone_hints", "routes", "tags"}


def render_many(call: Call, rows: list[Router]) -> list[dict]:
    bodies = []
    for r in rows:
        gateway = None
        if r.gateway_network_id:
            gateway = {"network_id": r.gateway_network_id, "enable_snat": r.enable_snat,
                       "external_fixed_ips": ipam.fixed_ips(call.db, r.gateway_port_id) if r.gateway_port_id else []}
        bodies.append({"id": r.id, "name": r.name, "admin_state_up": r.admin_state_up, "status": r.status,
                       "external_gateway_info": gateway, "routes": list(r.routes), "distributed": r.distributed,
                       "ha": r.ha, "availability_zone_hints": list(r.availability_zone_hints),
                       "availability_zones": ["nova"], "flavor_id": None, **standard(r)})
    return bodies


def render(call: Call, r: Router) -> dict:
    return render_many(call, [r])[0]


@router.post("/v2.0/routers")
def create_router(call: Call):
    def create_one(item: dict) -> dict:
        check_keys(item, WRITABLE)
        policy.enforce(call.ctx, "create")
        if item.get("distributed") or item.get("ha"):
            policy.enforce(call.ctx, "admin_only")
        r = Router(project_id=owner_for_create(call, item, "router"), name=item.get("name") or "",
                   admin_state_up=item.get("admin_state_up", True), description=item.get("description") or "",
                   availability_zone_hints=item.get("availability_zone_hints") or [])
        take_tags(r, item)
        call.db.add(r)
        call.db.flush()
        if item.get("external_gateway_info"):
            routers.set_gateway(call.db, call.ctx, r, item["external_gateway_info"])
        if item.get("routes"):
            routers.set_routes(call.db, r, item["routes"])
        return render(call, r)
    return bulk_or_single(call, "router", "routers", create_one)


@router.get("/v2.0/routers")
def list_routers(call: Call):
    return listing(call, scope(sa.select(Router), Router, call.ctx), Router, COLUMNS, render_many, "routers")


@router.get("/v2.0/routers/{router_id}")
def show_router(call: Call):
    return {"router": fields(call, render(call, routers.get(call.db, call.ctx, call.params["router_id"])))}


@router.put("/v2.0/routers/{router_id}")
def update_router(call: Call):
    item = body_for_update(call, "router")
    check_keys(item, WRITABLE - {"project_id", "tenant_id"}, read_only={"id", "status", "availability_zone_hints"})
    r = routers.get(call.db, call.ctx, call.params["router_id"])
    policy.enforce(call.ctx, "update", {"project_id": r.project_id})
    if "external_gateway_info" in item:
        routers.set_gateway(call.db, call.ctx, r, item["external_gateway_info"])
    if "routes" in item:
        routers.set_routes(call.db, r, item["routes"])
    for key in ("name", "admin_state_up", "description"):
        if key in item:
            setattr(r, key, item[key])
    take_tags(r, item)
    touch(r)
    return {"router": render(call, r)}


@router.delete("/v2.0/routers/{router_id}")
def delete_router(call: Call):
    r = routers.get(call.db, call.ctx, call.params["router_id"])
    policy.enforce(call.ctx, "delete", {"project_id": r.project_id})
    routers.delete(call.db, r)
    return deleted()


def _interface_body(call: Call) -> dict:
    body = call.body
    if not isinstance(body, dict):
        raise BadRequest("Bad router request: Either subnet_id or port_id must be specified", kind="BadRequest")
    return body


def _interface_info(r: Router, port, subnet) -> dict:
    return {"id": r.id, "tenant_id": r.project_id, "project_id": r.project_id, "port_id": port.id,
            "network_id": port.network_id, "subnet_id": subnet.id if subnet else None,
            "subnet_ids": [subnet.id] if subnet else []}


@router.put("/v2.0/routers/{router_id}/add_router_interface")
def add_interface(call: Call):
    body = _interface_body(call)
    r = routers.get(call.db, call.ctx, call.params["router_id"])
    policy.enforce(call.ctx, "update", {"project_id": r.project_id})
    port, subnet = routers.add_interface(call.db, call.ctx, r, subnet_id=body.get("subnet_id"),
                                         port_id=body.get("port_id"))
    touch(r)
    return _interface_info(r, port, subnet)


@router.put("/v2.0/routers/{router_id}/remove_router_interface")
def remove_interface(call: Call):
    body = _interface_body(call)
    r = routers.get(call.db, call.ctx, call.params["router_id"])
    policy.enforce(call.ctx, "update", {"project_id": r.project_id})
    port, subnet = routers.remove_interface(call.db, call.ctx, r, subnet_id=body.get("subnet_id"),
                                            port_id=body.get("port_id"))
    touch(r)
    return _interface_info(r, port, subnet)
