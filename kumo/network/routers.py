"""Routers: gateways to external networks, interfaces on subnets, extra routes."""

from __future__ import annotations

import ipaddress

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.errors import BadRequest, Conflict, NotFound
from kumo.network import ipam, networks, ports
from kumo.network.models import FloatingIP, IPAllocation, Network, Port, Router, Subnet

INTERFACE = "network:router_interface"
GATEWAY = "network:router_gateway"


def not_found(router_id: str) -> NotFound:
    return NotFound(f"Router {router_id} could not be found", kind="RouterNotFound")


def get(db: Session, ctx: Context, router_id: str) -> Router:
    router = db.get(Router, router_id)
    if router is None or not (ctx.is_admin or router.project_id == ctx.project_id):
        raise not_found(router_id)
    return router


def interfaces(db: Session, router_id: str) -> list[Port]:
    return list(db.scalars(sa.select(Port).where(Port.device_id == router_id, Port.device_owner == INTERFACE)))


def interface_subnets(db: Session, router_id: str) -> list[Subnet]:
    port_ids = [p.id for p in interfaces(db, router_id)]
    if not port_ids:
        return []
    subnet_ids = db.scalars(sa.select(IPAllocation.subnet_id).where(IPAllocation.port_id.in_(port_ids)))
    return list(db.scalars(sa.select(Subnet).where(Subnet.id.in_(list(subnet_ids)))))


def _bad(message: str, kind: str = "BadRequest") -> BadRequest:
    return BadRequest(f"Bad router request: {message}", kind=kind)


def set_gateway(db: Session, ctx: Context, router: Router, info: dict | None) -> None:
    """Attach the router to an external network (a gateway port on it), or detach it (``None``/``{}``)."""
    if not info:
        if router.gateway_port_id:
            if db.scalar(sa.select(FloatingIP.id).where(FloatingIP.router_id == router.id)):
                raise Conflict(f"Gateway cannot be updated for router {router.id}, since a gateway to external"
                               f" network {router.gateway_network_id} is required by one or more floating IPs.",
                               kind="RouterExternalGatewayInUseByFloatingIp")
            port = db.get(Port, router.gateway_port_id)
            if port is not None:
                ports.delete(db, port)
        router.gateway_network_id = router.gateway_port_id = None
        return
    if not isinstance(info, dict) or "network_id" not in info:
        raise BadRequest("Invalid input for external_gateway_info: network_id is required.", kind="InvalidInput")
    network = db.get(Network, info["network_id"])
    if network is None:
        raise networks.not_found(info["network_id"])
    if not network.external:
        raise _bad(f"Network {network.id} is not an external network")
    if "enable_snat" in info:
        router.enable_snat = bool(info["enable_snat"])
    if router.gateway_network_id == network.id and not info.get("external_fixed_ips"):
        return
    if router.gateway_port_id:
        old = db.get(Port, router.gateway_port_id)
        if old is not None:
            ports.delete(db, old)
    admin_ctx = Context(user_id=ctx.user_id, roles=frozenset({"admin"}))
    port = ports.create(db, admin_ctx, network, project_id="", device_id=router.id, device_owner=GATEWAY,
                        fixed_ips=info.get("external_fixed_ips") or None, security_groups_ids=[])
    router.gateway_network_id, router.gateway_port_id = network.id, port.id


def add_interface(db: Session, ctx: Context, router: Router, *, subnet_id=None, port_id=None) -> tuple[Port, Subnet]:
    if bool(subnet_id) == bool(port_id):
        raise _bad("Either subnet_id or port_id must be specified")
    existing = interface_subnets(db, router.id)
    if subnet_id:
        from kumo.network import subnets
        subnet = subnets.get(db, ctx, subnet_id)
        if not subnet.gateway_ip:
            raise _bad("Subnet for router interface must have a gateway IP")
        if any(s.id == subnet.id for s in existing):
            raise _bad(f"Router already has a port on subnet {subnet.id}", kind="BadRequest")
        _check_overlap(subnet, existing)
        network = db.get(Network, subnet.network_id)
        taken = db.get(IPAllocation, (subnet.id, subnet.gateway_ip))
        if taken is not None:
            raise Conflict(f"IP address {subnet.gateway_ip} already allocated in subnet {subnet.id}",
                           kind="IpAddressAlreadyAllocated")
        port = ports.create(db, ctx, network, project_id=router.project_id, device_id=router.id,
                            device_owner=INTERFACE, fixed_ips=[{"subnet_id": subnet.id, "ip_address": subnet.gateway_ip}],
                            security_groups_ids=[])
        return port, subnet
    port = ports.get(db, ctx, port_id)
    if port.device_id or port.device_owner:
        raise Conflict(f"Unable to complete operation on port {port.id} for network {port.network_id}. Port"
                       f" already has an attached device {port.device_id}.", kind="PortInUse")
    allocations = ipam.fixed_ips(db, port.id)
    if not allocations:
        raise _bad("Router port must have at least one fixed IP")
    subnet = db.get(Subnet, allocations[0]["subnet_id"])
    if any(s.network_id == port.network_id for s in existing):
        raise _bad(f"Router already has a port on network {port.network_id}")
    _check_overlap(subnet, existing)
    port.device_id, port.device_owner = router.id, INTERFACE
    port.security_group_ids = []
    return port, subnet


def _check_overlap(subnet: Subnet, existing: list[Subnet]) -> None:
    mine = ipaddress.ip_network(subnet.cidr)
    for other in existing:
        if ipaddress.ip_network(other.cidr).overlaps(mine):
            raise _bad(f"Cidr {subnet.cidr} of subnet {subnet.id} overlaps with cidr {other.cidr} of subnet"
                       f" {other.id}")


def remove_interface(db: Session, ctx: Context, router: Router, *, subnet_id=None, port_id=None) -> tuple[Port, Subnet]:
    if not subnet_id and not port_id:
        raise _bad("Either subnet_id or port_id must be specified")
    for port in interfaces(db, router.id):
        allocations = ipam.fixed_ips(db, port.id)
        if (port_id and port.id == port_id) or (subnet_id and any(a["subnet_id"] == subnet_id for a in allocations)):
            if subnet_id and port_id and not any(a["subnet_id"] == subnet_id for a in allocations):
                raise BadRequest(f"Subnet {subnet_id} is not in the port {port_id}.", kind="SubnetMismatchForPort")
            subnet = db.get(Subnet, subnet_id or allocations[0]["subnet_id"]) if allocations else None
            _check_no_floating_ips(db, router, subnet)
            ports.delete(db, port)
            return port, subnet
    if port_id:
        raise NotFound(f"Router {router.id} does not have an interface with id {port_id}",
                       kind="RouterInterfaceNotFound")
    raise NotFound(f"Router {router.id} has no interface on subnet {subnet_id}",
                   kind="RouterInterfaceNotFoundForSubnet")


def _check_no_floating_ips(db: Session, router: Router, subnet: Subnet | None) -> None:
    if subnet is None:
        return
    net = ipaddress.ip_network(subnet.cidr)
    for fip in db.scalars(sa.select(FloatingIP).where(FloatingIP.router_id == router.id)):
        if fip.fixed_ip_address and ipaddress.ip_address(fip.fixed_ip_address) in net:
            raise Conflict(f"Router interface for subnet {subnet.id} on router {router.id} cannot be deleted, as"
                           f" it is required by one or more floating IPs.", kind="RouterInterfaceInUseByFloatingIP")


def set_routes(db: Session, router: Router, routes: list) -> None:
    connected = [ipaddress.ip_network(s.cidr) for s in interface_subnets(db, router.id)]
    checked = []
    for route in routes or []:
        try:
            destination = ipaddress.ip_network(route["destination"])
            nexthop = ipaddress.ip_address(route["nexthop"])
        except (KeyError, TypeError, ValueError):
            raise BadRequest(f"Invalid format for routes: {route}", kind="InvalidInput") from None
        if not any(nexthop in net for net in connected):
            raise BadRequest(f"Invalid format for routes: {routes}, the nexthop is not connected with router",
                             kind="InvalidRoutes")
        entry = {"destination": str(destination), "nexthop": str(nexthop)}
        if entry not in checked:
            checked.append(entry)
    router.routes = checked


def delete(db: Session, router: Router) -> None:
    if interfaces(db, router.id):
        raise Conflict(f"Router {router.id} still has ports", kind="RouterInUse")
    if db.scalar(sa.select(FloatingIP.id).where(FloatingIP.router_id == router.id)):
        raise Conflict(f"Router {router.id} still has floating IPs associated", kind="RouterInUse")
    if router.gateway_port_id:
        port = db.get(Port, router.gateway_port_id)
        if port is not None:
            ports.delete(db, port)
    db.delete(router)
    db.flush()
