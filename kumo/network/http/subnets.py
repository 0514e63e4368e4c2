"""``/v2.0/subnets``."""

from __future__ import annotations

import sqlalchemy as sa

from kumo.api.routing import Call
from kumo.db.filters import as_bool
from kumo.errors import BadRequest
from kumo.network import networks, subnets
from kumo.network.http.common import (body_for_update, bulk_or_single, check_keys, deleted, fields, listing,
                                      owner_for_create, router, scope, standard, take_tags, touch)
from kumo.network.models import Network, Subnet
from kumo.network.policies import policy

COLUMNS = {"id": Subnet.id, "name": Subnet.name, "network_id": Subnet.network_id, "ip_version": Subnet.ip_version,
           "cidr": Subnet.cidr, "gateway_ip": Subnet.gateway_ip, "enable_dhcp": Subnet.enable_dhcp,
           "ipv6_ra_mode": Subnet.ipv6_ra_mode, "ipv6_address_mode": Subnet.ipv6_address_mode,
           "subnetpool_id": Subnet.subnetpool_id, "project_id": Subnet.project_id, "tenant_id": Subnet.project_id,
           "description": Subnet.description, "created_at": Subnet.created_at, "updated_at": Subnet.updated_at,
           "revision_number": Subnet.revision_number}
WRITABLE = {"name", "network_id", "ip_version", "cidr", "gateway_ip", "enable_dhcp", "allocation_pools",
            "dns_nameservers", "host_routes", "ipv6_ra_mode", "ipv6_address_mode", "subnetpool_id",
            "use_default_subnetpool", "prefixlen", "description", "project_id", "tenant_id", "service_types",
            "tags"}
UPDATABLE = {"name", "gateway_ip", "enable_dhcp", "allocation_pools", "dns_nameservers", "host_routes",
             "description", "service_types", "tags"}


def render_many(call: Call, rows: list[Subnet]) -> list[dict]:
    network_ids = {s.network_id for s in rows}
    external = set(call.db.scalars(sa.select(Network.id).where(Network.id.in_(network_ids),
                                                               Network.external.is_(True)))) if rows else set()
    return [{"id": s.id, "name": s.name, "network_id": s.network_id, "ip_version": s.ip_version, "cidr": s.cidr,
             "gateway_ip": s.gateway_ip, "enable_dhcp": s.enable_dhcp, "ipv6_ra_mode": s.ipv6_ra_mode,
             "ipv6_address_mode": s.ipv6_address_mode, "subnetpool_id": s.subnetpool_id,
             "dns_nameservers": list(s.dns_nameservers), "host_routes": list(s.host_routes),
             "allocation_pools": list(s.allocation_pools), "service_types": list(s.service_types),
             "segment_id": None, "dns_publish_fixed_ip": False, "router:external": s.network_id in external,
             **standard(s)} for s in rows]


def render(call: Call, subnet: Subnet) -> dict:
    return render_many(call, [subnet])[0]


def _int(item: dict, key: str, default=None):
    value = item.get(key, default)
    if value is None or value is default:
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"Invalid input for {key}. Reason: '{value}' is not an integer.", kind="InvalidInput")


@router.post("/v2.0/subnets")
def create_subnet(call: Call):
    def create_one(item: dict) -> dict:
        check_keys(item, WRITABLE)
        if "network_id" not in item:
            raise BadRequest("Failed to parse request. Required attribute 'network_id' not specified",
                             kind="HTTPBadRequest")
        if "ip_version" not in item:
            raise BadRequest("Failed to parse request. Required attribute 'ip_version' not specified",
                             kind="HTTPBadRequest")
        network = networks.get(call.db, call.ctx, item["network_id"])
        policy.enforce(call.ctx, "update", {"project_id": network.project_id})  # the network's owner adds subnets
        subnet = subnets.create(
            call.db, call.ctx, network, project_id=owner_for_create(call, item, "subnet"), ip_version=_int(item, "ip_version"),
            cidr=item.get("cidr"), name=item.get("name") or "",
            gateway_ip=item.get("gateway_ip", "auto"), enable_dhcp=item.get("enable_dhcp", True),
            allocation_pools=item.get("allocation_pools"), dns_nameservers=item.get("dns_nameservers") or [],
            host_routes=item.get("host_routes") or [], ipv6_ra_mode=item.get("ipv6_ra_mode"),
            ipv6_address_mode=item.get("ipv6_address_mode"), subnetpool_id=item.get("subnetpool_id"),
            use_default_subnetpool=bool(item.get("use_default_subnetpool")), prefixlen=_int(item, "prefixlen"),
            description=item.get("description") or "", service_types=item.get("service_types") or [])
        take_tags(subnet, item)
        touch(network)
        return render(call, subnet)
    return bulk_or_single(call, "subnet", "subnets", create_one)


@router.get("/v2.0/subnets")
def list_subnets(call: Call):
    shared = sa.select(Network.id).where(sa.or_(Network.shared.is_(True), Network.external.is_(True)))
    query = scope(sa.select(Subnet), Subnet, call.ctx, Subnet.network_id.in_(shared))
    if call.query.get("router:external") is not None:  # subnet-external-network: the network's flag
        external = sa.select(Network.id).where(Network.external.is_(True))
        wanted = as_bool(call.query["router:external"])
        query = query.where(Subnet.network_id.in_(external) if wanted else Subnet.network_id.not_in(external))
    return listing(call, query, Subnet, COLUMNS, render_many, "subnets")


@router.get("/v2.0/subnets/{subnet_id}")
def show_subnet(call: Call):
    return {"subnet": fields(call, render(call, subnets.get(call.db, call.ctx, call.params["subnet_id"])))}


@router.put("/v2.0/subnets/{subnet_id}")
def update_subnet(call: Call):
    item = body_for_update(call, "subnet")
    check_keys(item, UPDATABLE, read_only={"id", "network_id", "ip_version", "cidr", "ipv6_ra_mode",
                                           "ipv6_address_mode", "subnetpool_id", "project_id", "tenant_id"})
    subnet = subnets.get(call.db, call.ctx, call.params["subnet_id"])
    policy.enforce(call.ctx, "update", {"project_id": subnet.project_id})
    subnets.update(call.db, subnet, item)
    take_tags(subnet, item)
    touch(subnet)
    return {"subnet": render(call, subnet)}


@router.delete("/v2.0/subnets/{subnet_id}")
def delete_subnet(call: Call):
    subnet = subnets.get(call.db, call.ctx, call.params["subnet_id"])
    policy.enforce(call.ctx, "delete", {"project_id": subnet.project_id})
    subnets.delete(call.db, subnet)
    return deleted()
