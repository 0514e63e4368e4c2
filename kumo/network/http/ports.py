"""``/v2.0/ports``."""

from __future__ import annotations

import sqlalchemy as sa

from kumo.api.routing import Call
from kumo.errors import BadRequest
from kumo.network import ipam, networks, ports, trunks
from kumo.network.http.common import (body_for_update, bulk_or_single, check_keys, decoded, deleted, fields,
                                      isotime, listing, owner_for_create, raw_select, router, scope, take_tags,
                                      touch)
from kumo.network.models import IPAllocation, Port
from kumo.network.policies import policy
from kumo.network.trunk_models import Trunk

COLUMNS = {"id": Port.id, "name": Port.name, "network_id": Port.network_id, "mac_address": Port.mac_address,
           "admin_state_up": Port.admin_state_up, "status": Port.status, "device_id": Port.device_id,
           "device_owner": Port.device_owner, "project_id": Port.project_id, "tenant_id": Port.project_id,
           "port_security_enabled": Port.port_security_enabled, "binding:host_id": Port.binding_host_id,
           "binding:vnic_type": Port.binding_vnic_type, "description": Port.description,
           "created_at": Port.created_at, "updated_at": Port.updated_at, "revision_number": Port.revision_number}
WRITABLE = {"name", "network_id", "mac_address", "fixed_ips", "admin_state_up", "device_id", "device_owner",
            "security_groups", "port_security_enabled", "allowed_address_pairs", "description", "project_id",
            "tenant_id", "binding:host_id", "binding:vnic_type", "binding:profile", "extra_dhcp_opts", "tags"}
BINDING = {"binding:host_id", "binding:profile"}


def render_many(call: Call, rows: list, new: bool = False) -> list[dict]:
    """Ports (ORM objects, or rows of ``raw_select(Port)``) as Neutron shows them; ``new``: just created, so
    no trunk's parent yet."""
    ids = [p.id for p in rows]
    if new and all(hasattr(p, "assigned_ips") for p in rows):  # just allocated: not read back
        ips = {p.id: list(p.assigned_ips) for p in rows}
    else:
        ips = ipam.fixed_ips_by_port(call.db, ids)
    trunk_details = {} if new else trunks.details_by_port(call.db, _trunk_parents(call, ids))
    admin = call.ctx.is_admin
    memo: dict[str, object] = {}

    def json(value):
        """A JSON column's value: the text of a ``raw_select`` row decoded once per distinct text (ports mostly
        share theirs: the same groups, no pairs) and shared by the bodies, which are only serialized; an ORM
        object's value copied."""
        if not isinstance(value, str):
            return list(value) if isinstance(value, list) else value
        found = memo.get(value)
        if found is None:
            found = memo[value] = decoded(value)
        return found

    bodies = []
    append = bodies.append
    for p in rows:  # one dict literal per port: a list renders thousands
        body = {"id": p.id, "name": p.name, "network_id": p.network_id, "mac_address": p.mac_address,
                "admin_state_up": bool(p.admin_state_up), "status": p.status, "device_id": p.device_id,
                "device_owner": p.device_owner, "fixed_ips": ips[p.id],
                "security_groups": json(p.security_group_ids),
                "port_security_enabled": bool(p.port_security_enabled),
                "allowed_address_pairs": json(p.allowed_address_pairs),
                "extra_dhcp_opts": json(p.extra_dhcp_opts),
                "binding:vnic_type": p.binding_vnic_type, "dns_name": "", "qos_policy_id": None,
                "propagate_uplink_status": False, "description": p.description or "",
                "tags": json(p.tags) or [], "created_at": isotime(p.created_at),
                "updated_at": isotime(p.updated_at), "revision_number": p.revision_number,
                "project_id": p.project_id, "tenant_id": p.project_id}  # = standard(p)
        if trunk_details and p.id in trunk_details:
            body["trunk_details"] = trunk_details[p.id]
        if admin:
            body["binding:host_id"] = p.binding_host_id
            body["binding:profile"] = json(p.binding_profile)
            body["binding:vif_type"] = p.binding_vif_type
            body["binding:vif_details"] = json(p.binding_vif_details)
        append(body)
    return bodies


def _trunk_parents(call: Call, ids: list[str]) -> list[str]:
    """Those of ``ids`` that are a trunk's parent port: for a long list, every parent (there are few trunks)
    intersected with it, rather than a query naming thousands of ports."""
    if len(ids) <= 50:
        return ids
    parents = set(call.db.scalars(sa.select(Trunk.port_id)))
    return [i for i in ids if i in parents] if parents else []


def render(call: Call, port: Port, new: bool = False) -> dict:
    return render_many(call, [port], new)[0]


def _fixed_ips_filter(call: Call, query):
    for value in call.query.getlist("fixed_ips"):
        key, _, wanted = value.partition("=")
        column = {"ip_address": IPAllocation.ip_address, "subnet_id": IPAllocation.subnet_id}.get(key)
        if column is None:
            raise BadRequest(f"Invalid fixed_ips filter: {value}.")
        query = query.where(Port.id.in_(sa.select(IPAllocation.port_id).where(column == wanted)))
    return query


def _security_groups_filter(call: Call, query):
    """``?security_groups=<id>`` (repeated: any of them), ``port-security-groups-filtering``. The ids are a
    JSON list on the port, so the matching is done here, before sorting and paging."""
    wanted = {g for value in call.query.getlist("security_groups") for g in value.split(",") if g}
    if not wanted:
        return query
    rows = call.db.execute(sa.select(Port.id, Port.security_group_ids).where(
        Port.id.in_(query.with_only_columns(Port.id)))).all()
    return query.where(Port.id.in_([pid for pid, groups in rows if wanted & set(groups or [])]))


@router.post("/v2.0/ports")
def create_port(call: Call):
    def create_one(item: dict) -> dict:
        check_keys(item, WRITABLE)
        if "network_id" not in item:
            raise BadRequest("Failed to parse request. Required attribute 'network_id' not specified",
                             kind="HTTPBadRequest")
        network = networks.get(call.db, call.ctx, item["network_id"])
        policy.enforce(call.ctx, "create")
        if BINDING & set(item) or "mac_address" in item and network.project_id != call.ctx.project_id:
            policy.enforce(call.ctx, "admin_only")
        if (item.get("device_owner") or "").startswith("network:") or item.get("fixed_ips") and \
                network.project_id != call.ctx.project_id:
            policy.enforce(call.ctx, "update", {"project_id": network.project_id})
        port = ports.create(
            call.db, call.ctx, network, project_id=owner_for_create(call, item, "port"), name=item.get("name") or "",
            mac_address=item.get("mac_address"), fixed_ips=item.get("fixed_ips"),
            admin_state_up=item.get("admin_state_up", True), device_id=item.get("device_id") or "",
            device_owner=item.get("device_owner") or "", security_groups_ids=item.get("security_groups"),
            port_security_enabled=item.get("port_security_enabled"),
            allowed_address_pairs=item.get("allowed_address_pairs") or [],
            description=item.get("description") or "", binding={k: v for k, v in item.items()
                                                                if k.startswith("binding:")},
            extra_dhcp_opts=item.get("extra_dhcp_opts") or [])
        take_tags(port, item)
        return render(call, port, new=True)
    return bulk_or_single(call, "port", "ports", create_one)


@router.get("/v2.0/ports")
def list_ports(call: Call):
    query = _security_groups_filter(call, _fixed_ips_filter(call, scope(raw_select(Port), Port, call.ctx)))
    return listing(call, query, Port, COLUMNS, render_many, "ports", raw=True)


@router.get("/v2.0/ports/{port_id}")
def show_port(call: Call):
    return {"port": fields(call, render(call, ports.get(call.db, call.ctx, call.params["port_id"])))}


@router.put("/v2.0/ports/{port_id}")
def update_port(call: Call):
    item = body_for_update(call, "port")
    check_keys(item, WRITABLE - {"network_id", "project_id", "tenant_id"}, read_only={"id", "status"})
    port = ports.get(call.db, call.ctx, call.params["port_id"])
    policy.enforce(call.ctx, "update", {"project_id": port.project_id})
    if BINDING & set(item):
        policy.enforce(call.ctx, "admin_only")
    ports.update(call.db, call.ctx, port, item)
    take_tags(port, item)
    touch(port)
    return {"port": render(call, port)}


@router.delete("/v2.0/ports/{port_id}")
def delete_port(call: Call):
    port = ports.get(call.db, call.ctx, call.params["port_id"])
    policy.enforce(call.ctx, "delete", {"project_id": port.project_id})
    ports.delete(call.db, port)
    return deleted()
