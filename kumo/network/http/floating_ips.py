"""``/v2.0/floatingips``."""

from __future__ import annotations

import sqlalchemy as sa

from kumo.api.routing import Call
from kumo.errors import BadRequest
from kumo.network import floating_ips
from kumo.network.http.common import (body_for_update, bulk_or_single, check_keys, deleted, fields, listing,
                                      owner_for_create, router, scope, standard, take_tags, touch)
from kumo.network.models import FloatingIP, Port
from kumo.network.policies import policy

COLUMNS = {"id": FloatingIP.id, "floating_ip_address": FloatingIP.floating_ip_address,
           "floating_network_id": FloatingIP.floating_network_id, "router_id": FloatingIP.router_id,
           "port_id": FloatingIP.port_id, "fixed_ip_address": FloatingIP.fixed_ip_address,
           "status": FloatingIP.status, "project_id": FloatingIP.project_id, "tenant_id": FloatingIP.project_id,
           "description": FloatingIP.description, "created_at": FloatingIP.created_at,
           "updated_at": FloatingIP.updated_at, "revision_number": FloatingIP.revision_number}
WRITABLE = {"floating_network_id", "port_id", "fixed_ip_address", "floating_ip_address", "subnet_id",
            "project_id", "tenant_id", "description", "tags"}


def render_many(call: Call, rows: list[FloatingIP]) -> list[dict]:
    bodies = []
    for f in rows:
        details = None
        if f.port_id:
            port = call.db.get(Port, f.port_id)
            if port is not None:
                details = {"name": port.name, "network_id": port.network_id, "mac_address": port.mac_address,
                           "admin_state_up": port.admin_state_up, "status": port.status,
                           "device_id": port.device_id, "device_owner": port.device_owner}
        bodies.append({"id": f.id, "floating_ip_address": f.floating_ip_address,
                       "floating_network_id": f.floating_network_id, "router_id": f.router_id,
                       "port_id": f.port_id, "fixed_ip_address": f.fixed_ip_address, "status": f.status,
                       "port_details": details, "dns_name": f.dns_name, "dns_domain": f.dns_domain,
                       "port_forwardings": [], "qos_policy_id": None, **standard(f)})
    return bodies


def render(call: Call, f: FloatingIP) -> dict:
    return render_many(call, [f])[0]


@router.post("/v2.0/floatingips")
def create_floating_ip(call: Call):
    def create_one(item: dict) -> dict:
        check_keys(item, WRITABLE)
        if not item.get("floating_network_id"):
            raise BadRequest("Failed to parse request. Required attribute 'floating_network_id' not specified",
                             kind="HTTPBadRequest")
        policy.enforce(call.ctx, "create")
        if item.get("floating_ip_address"):
            policy.enforce(call.ctx, "admin_only")
        fip = floating_ips.create(
            call.db, call.ctx, project_id=owner_for_create(call, item, "floatingip"),
            floating_network_id=item["floating_network_id"], port_id=item.get("port_id"),
            fixed_ip_address=item.get("fixed_ip_address"), floating_ip_address=item.get("floating_ip_address"),
            subnet_id=item.get("subnet_id"), description=item.get("description") or "")
        take_tags(fip, item)
        return render(call, fip)
    return bulk_or_single(call, "floatingip", "floatingips", create_one)


@router.get("/v2.0/floatingips")
def list_floating_ips(call: Call):
    query = scope(sa.select(FloatingIP), FloatingIP, call.ctx)
    return listing(call, query, FloatingIP, COLUMNS, render_many, "floatingips")


@router.get("/v2.0/floatingips/{fip_id}")
def show_floating_ip(call: Call):
    return {"floatingip": fields(call, render(call, floating_ips.get(call.db, call.ctx, call.params["fip_id"])))}


@router.put("/v2.0/floatingips/{fip_id}")
def update_floating_ip(call: Call):
    item = body_for_update(call, "floatingip")
    check_keys(item, {"port_id", "fixed_ip_address", "description", "tags"},
               read_only={"id", "floating_ip_address", "floating_network_id", "project_id", "tenant_id"})
    fip = floating_ips.get(call.db, call.ctx, call.params["fip_id"])
    policy.enforce(call.ctx, "update", {"project_id": fip.project_id})
    if "port_id" in item:
        floating_ips.associate(call.db, call.ctx, fip, item["port_id"], item.get("fixed_ip_address"))
    if "description" in item:
        fip.description = item["description"] or ""
    take_tags(fip, item)
    touch(fip)
    return {"floatingip": render(call, fip)}


@router.delete("/v2.0/floatingips/{fip_id}")
def delete_floating_ip(call: Call):
    fip = floating_ips.get(call.db, call.ctx, call.params["fip_id"])
    policy.enforce(call.ctx, "delete", {"project_id": fip.project_id})
    floating_ips.delete(call.db, fip)
    return deleted()
