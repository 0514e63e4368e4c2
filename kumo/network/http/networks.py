"""``/v2.0/networks``."""

from __future__ import annotations

import sqlalchemy as sa

from kumo.api.routing import Call
from kumo.errors import BadRequest
from kumo.network import networks
from kumo.network.http.common import (body_for_update, bulk_or_single, check_keys, decoded, deleted, fields,
                                      listing, owner_for_create, raw_select, records, router, scope, standard,
                                      take_tags, touch)
from kumo.network.models import Network, Subnet
from kumo.network.policies import policy

COLUMNS = {"id": Network.id, "name": Network.name, "admin_state_up": Network.admin_state_up,
           "status": Network.status, "shared": Network.shared, "router:external": Network.external,
           "project_id": Network.project_id, "tenant_id": Network.project_id, "mtu": Network.mtu,
           "provider:network_type": Network.network_type, "provider:physical_network": Network.physical_network,
           "provider:segmentation_id": Network.segmentation_id, "description": Network.description,
           "port_security_enabled": Network.port_security_enabled, "is_default": Network.is_default,
           "created_at": Network.created_at, "updated_at": Network.updated_at,
           "revision_number": Network.revision_number}
ADMIN_ONLY = {"shared", "router:external", "provider:network_type", "provider:physical_network",
              "provider:segmentation_id", "is_default"}
WRITABLE = {"name", "admin_state_up", "shared", "router:external", "mtu", "port_security_enabled", "description",
            "provider:network_type", "provider:physical_network", "provider:segmentation_id",
            "availability_zone_hints", "project_id", "tenant_id", "is_default", "tags"}


def render_many(call: Call, rows: list, new: bool = False,
                subnets: dict[str, list[str]] | None = None) -> list[dict]:
    """Networks (ORM objects, or rows of ``raw_select(Network)``) as Neutron shows them; ``new``: just
    created, so without subnets; ``subnets``: each network's subnet ids, when already read."""
    ids = [n.id for n in rows]
    if subnets is None:
        subnets = {i: [] for i in ids}
        if ids and not new:
            for network_id, subnet_id in call.db.execute(sa.select(Subnet.network_id, Subnet.id)
                                                         .where(Subnet.network_id.in_(ids)).order_by(Subnet.id)):
                subnets[network_id].append(subnet_id)
    admin = call.ctx.is_admin
    bodies = []
    for n in rows:
        body = {"id": n.id, "name": n.name, "admin_state_up": n.admin_state_up, "status": n.status,
                "subnets": subnets[n.id], "shared": n.shared, "router:external": n.external, "mtu": n.mtu,
                "port_security_enabled": n.port_security_enabled,
                "availability_zone_hints": decoded(n.availability_zone_hints),
                "availability_zones": ["nova"], "ipv4_address_scope": None, "ipv6_address_scope": None,
                "l2_adjacency": True, "is_default": n.is_default, **standard(n)}
        if admin:
            body.update({"provider:network_type": n.network_type, "provider:physical_network": n.physical_network,
                         "provider:segmentation_id": n.segmentation_id})
        bodies.append(body)
    return bodies


def render(call: Call, network: Network, new: bool = False) -> dict:
    return render_many(call, [network], new)[0]


def _bool(item: dict, key: str, default):
    value = item.get(key, default)
    if value is not default and not isinstance(value, bool):
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        raise BadRequest(f"Invalid input for {key}. Reason: '{value}' is not a valid boolean value.",
                         kind="InvalidInput")
    return value


@router.post("/v2.0/networks")
def create_network(call: Call):
    def create_one(item: dict) -> dict:
        check_keys(item, WRITABLE)
        policy.enforce(call.ctx, "create")
        if ADMIN_ONLY & set(item) and not call.ctx.is_admin and any(item.get(k) for k in ADMIN_ONLY):
            policy.enforce(call.ctx, "admin_only")
        network = networks.create(
            call.db, project_id=owner_for_create(call, item, "network"), name=item.get("name") or "",
            admin_state_up=_bool(item, "admin_state_up", True), shared=_bool(item, "shared", False),
            external=_bool(item, "router:external", False), mtu=item.get("mtu"),
            port_security_enabled=_bool(item, "port_security_enabled", True),
            network_type=item.get("provider:network_type"), physical_network=item.get("provider:physical_network"),
            segmentation_id=item.get("provider:segmentation_id"), description=item.get("description") or "",
            availability_zone_hints=item.get("availability_zone_hints") or [],
            is_default=_bool(item, "is_default", False))
        take_tags(network, item)
        return render(call, network, new=True)
    return bulk_or_single(call, "network", "networks", create_one)


@router.get("/v2.0/networks")
def list_networks(call: Call):
    query = scope(raw_select(Network), Network, call.ctx, Network.shared.is_(True), Network.external.is_(True))
    return listing(call, query, Network, COLUMNS, render_many, "networks", raw=True)


# one network and its subnets' ids in one statement (a row per subnet), built once
_SHOW = raw_select(Network).add_columns(Subnet.id.label("subnet_id")).outerjoin(
    Subnet, Subnet.network_id == Network.id).where(Network.id == sa.bindparam("id")).order_by(Subnet.id)


@router.get("/v2.0/networks/{network_id}")
def show_network(call: Call):
    network_id = call.params["network_id"]
    rows = records(call.db.connection().execute(_SHOW, {"id": network_id}).all())
    if not rows:
        raise networks.not_found(network_id)
    network = rows[0]
    ctx = call.ctx
    if not (ctx.is_admin or network.project_id == ctx.project_id or network.shared or network.external):
        raise networks.not_found(network_id)
    subnets = {network.id: [row.subnet_id for row in rows if row.subnet_id is not None]}
    return {"network": fields(call, render_many(call, [network], subnets=subnets)[0])}


@router.put("/v2.0/networks/{network_id}")
def update_network(call: Call):
    item = body_for_update(call, "network")
    check_keys(item, WRITABLE - {"project_id", "tenant_id"},
               read_only={"id", "status", "subnets", "availability_zone_hints"})
    network = networks.get(call.db, call.ctx, call.params["network_id"])
    policy.enforce(call.ctx, "update", {"project_id": network.project_id})
    if ADMIN_ONLY & set(item):
        policy.enforce(call.ctx, "admin_only")
    current = {"provider:network_type": network.network_type, "provider:physical_network": network.physical_network,
               "provider:segmentation_id": network.segmentation_id}
    changed = sorted(key for key in current if key in item and item[key] != current[key])
    if changed:
        raise BadRequest(f"Invalid input for operation: Plugin does not support updating the following provider"
                         f" network attributes: {changed}.", kind="InvalidInput")
    changes = {k: item[k] for k in ("name", "admin_state_up", "shared", "port_security_enabled", "description",
                                    "mtu", "is_default") if k in item}
    if "router:external" in item:
        changes["external"] = item["router:external"]
    networks.update(call.db, network, changes)
    take_tags(network, item)
    touch(network)
    return {"network": render(call, network)}


@router.delete("/v2.0/networks/{network_id}")
def delete_network(call: Call):
    network = networks.get(call.db, call.ctx, call.params["network_id"])
    policy.enforce(call.ctx, "delete", {"project_id": network.project_id})
    networks.delete(call.db, network)
    return deleted()
