"""Floating IPs: an address on an external network, NATed to a port's fixed IP through a router."""

from __future__ import annotations

import ipaddress

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.errors import BadRequest, Conflict, NotFound
from kumo.network import ipam, networks, ports, routers
from kumo.network.models import FloatingIP, Network, Port, Router, Subnet

OWNER = "network:floatingip"


def not_found(fip_id: str) -> NotFound:
    return NotFound(f"Floating IP {fip_id} could not be found", kind="FloatingIPNotFound")


def get(db: Session, ctx: Context, fip_id: str) -> FloatingIP:
    fip = db.get(FloatingIP, fip_id)
    if fip is None or not (ctx.is_admin or fip.project_id == ctx.project_id):
        raise not_found(fip_id)
    return fip


def create(db: Session, ctx: Context, *, project_id: str, floating_network_id: str, port_id=None,
           fixed_ip_address=None, floating_ip_address=None, subnet_id=None, description="") -> FloatingIP:
    network = db.get(Network, floating_network_id)
    if network is None:
        raise networks.not_found(floating_network_id)
    if not network.external:
        raise BadRequest(f"Bad floatingip request: Network {network.id} is not a valid external network.",
                         kind="BadRequest")
    fip = FloatingIP(project_id=project_id, floating_network_id=network.id, floating_ip_address="",
                     floating_port_id="", description=description)
    db.add(fip)
    db.flush()
    fixed = [{"subnet_id": subnet_id}] if subnet_id else None
    if floating_ip_address:
        fixed = [{"ip_address": floating_ip_address, **({"subnet_id": subnet_id} if subnet_id else {})}]
    admin_ctx = Context(user_id=ctx.user_id, roles=frozenset({"admin"}))
    gateway_port = ports.create(db, admin_ctx, network, project_id="", device_id=fip.id, device_owner=OWNER,
                                fixed_ips=fixed or _first_v4(db, network.id), security_groups_ids=[])
    fip.floating_port_id = gateway_port.id
    fip.floating_ip_address = ipam.fixed_ips(db, gateway_port.id)[0]["ip_address"]
    if port_id:
        associate(db, ctx, fip, port_id, fixed_ip_address)
    db.flush()
    return fip


def _first_v4(db: Session, network_id: str):
    subnet = db.scalars(sa.select(Subnet).where(Subnet.network_id == network_id, Subnet.ip_version == 4)
                        .order_by(Subnet.created_at)).first()
    if subnet is None:
        raise BadRequest(f"Bad floatingip request: Network {network_id} has no IPv4 subnet.", kind="BadRequest")
    return [{"subnet_id": subnet.id}]


def associate(db: Session, ctx: Context, fip: FloatingIP, port_id: str | None, fixed_ip_address=None) -> None:
    if port_id is None:
        fip.port_id = fip.fixed_ip_address = fip.router_id = None
        fip.status = "DOWN"
        return
    port = ports.get(db, ctx, port_id)
    v4 = [a for a in ipam.fixed_ips(db, port.id) if ipaddress.ip_address(a["ip_address"]).version == 4]
    if fixed_ip_address:
        chosen = next((a for a in v4 if a["ip_address"] == fixed_ip_address), None)
        if chosen is None:
            raise BadRequest(f"Bad floatingip request: Port {port.id} does not have fixed ip {fixed_ip_address}.",
                             kind="BadRequest")
    elif len(v4) == 1:
        chosen = v4[0]
    elif not v4:
        raise BadRequest(f"Bad floatingip request: Port {port.id} does not have any IPv4 address.",
                         kind="BadRequest")
    else:
        raise BadRequest(f"Bad floatingip request: Port {port.id} has multiple fixed IPv4 addresses. Must provide"
                         f" a specific IPv4 address when assigning a floating IP.", kind="BadRequest")
    taken = db.scalar(sa.select(FloatingIP.id).where(FloatingIP.port_id == port.id,
                                                     FloatingIP.fixed_ip_address == chosen["ip_address"],
                                                     FloatingIP.id != fip.id))
    if taken:
        raise Conflict(f"Cannot associate floating IP {fip.floating_ip_address} ({fip.id}) with port {port.id}"
                       f" using fixed IP {chosen['ip_address']}, as that fixed IP already has a floating IP on"
                       f" external network {fip.floating_network_id}.", kind="FloatingIPPortAlreadyAssociated")
    router = _router_for(db, chosen["subnet_id"], fip.floating_network_id)
    if router is None:
        raise NotFound(f"External network {fip.floating_network_id} is not reachable from subnet"
                       f" {chosen['subnet_id']}.  Therefore, cannot associate Port {port.id} with a Floating IP.",
                       kind="ExternalGatewayForFloatingIPNotFound")
    fip.port_id, fip.fixed_ip_address, fip.router_id = port.id, chosen["ip_address"], router.id
    fip.status = "ACTIVE"


def _router_for(db: Session, subnet_id: str, external_network_id: str) -> Router | None:
    for router in db.scalars(sa.select(Router).where(Router.gateway_network_id == external_network_id)):
        if any(s.id == subnet_id for s in routers.interface_subnets(db, router.id)):
            return router
    return None


def delete(db: Session, fip: FloatingIP) -> None:
    port = db.get(Port, fip.floating_port_id) if fip.floating_port_id else None
    db.delete(fip)
    if port is not None:
        ports.delete(db, port)
    db.flush()
