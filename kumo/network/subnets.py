"""Subnets: validation as Neutron does it, allocation pools, IPv6 modes, prefixes from subnet pools."""

from __future__ import annotations

import ipaddress

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.errors import BadRequest, Conflict, NotFound
from kumo.network import ipam
from kumo.network.models import IPAllocation, Network, Port, Subnet, SubnetPool

IPV6_MODES = ("slaac", "dhcpv6-stateful", "dhcpv6-stateless")
NETWORK_OWNED = ("network:dhcp", "network:router_interface", "network:router_interface_distributed",
                 "network:ha_router_replicated_interface")


def not_found(subnet_id: str) -> NotFound:
    return NotFound(f"Subnet {subnet_id} could not be found.", kind="SubnetNotFound")


def invalid(message: str) -> BadRequest:
    return BadRequest(f"Invalid input for operation: {message}", kind="InvalidInput")


def get(db: Session, ctx: Context, subnet_id: str) -> Subnet:
    subnet = db.get(Subnet, subnet_id)
    if subnet is None:
        raise not_found(subnet_id)
    if not ctx.is_admin and subnet.project_id != ctx.project_id:
        network = db.get(Network, subnet.network_id)
        if not (network and (network.shared or network.external)):
            raise not_found(subnet_id)
    return subnet


def _network(cidr: str, ip_version: int):
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise invalid(f"'{cidr}' is not a valid IP subnet.") from None
    if str(net) != cidr:
        raise invalid(f"'{cidr}' isn't a recommended CIDR, '{net}' is recommended.")
    if net.version != ip_version:
        raise invalid("Cidr and IP version do not match.")
    if net.version == 4 and net.prefixlen == 0:
        raise invalid("0 prefix length is not allowed.")
    return net


def _check_ipv6_modes(ip_version: int, ra_mode, address_mode) -> None:
    for name, mode in (("ipv6_ra_mode", ra_mode), ("ipv6_address_mode", address_mode)):
        if mode is not None and mode not in IPV6_MODES:
            raise invalid(f"'{mode}' is not in {list(IPV6_MODES)} for {name}.")
    if (ra_mode or address_mode) and ip_version != 6:
        raise invalid("ipv6_ra_mode and ipv6_address_mode are only valid on IPv6 subnets.")
    if ra_mode and address_mode and ra_mode != address_mode:
        raise invalid(f"ipv6_ra_mode set to '{ra_mode}' with ipv6_address_mode set to '{address_mode}' is"
                      f" not valid. If both attributes are set, they must be the same value")


def _check_pools(net, pools: list[dict], gateway: str | None) -> list[dict]:
    ranges = []
    for pool in pools:
        try:
            start, end = ipaddress.ip_address(pool["start"]), ipaddress.ip_address(pool["end"])
        except (KeyError, ValueError, TypeError):
            raise invalid(f"Invalid allocation pool {pool}.") from None
        if start.version != net.version or start not in net or end not in net or start > end:
            raise BadRequest(f"The allocation pool {pool['start']}-{pool['end']} spans beyond the subnet"
                             f" cidr {net}.", kind="OutOfBoundsAllocationPool")
        ranges.append((start, end))
    ranges.sort()
    for (s1, e1), (s2, e2) in zip(ranges, ranges[1:]):
        if s2 <= e1:
            raise BadRequest(f"Found overlapping allocation pools: {s1}-{e1} and {s2}-{e2}.",
                             kind="OverlappingAllocationPools")
    if gateway:
        gw = ipaddress.ip_address(gateway)
        for start, end in ranges:
            if start <= gw <= end:
                raise Conflict(f"Gateway ip {gateway} conflicts with allocation pool {start}-{end}.",
                               kind="GatewayConflictWithAllocationPools")
    return [{"start": str(s), "end": str(e)} for s, e in ranges]


def _check_gateway(net, gateway) -> str | None:
    if gateway is None:
        return None
    try:
        gw = ipaddress.ip_address(gateway)
    except ValueError:
        raise invalid(f"'{gateway}' is not a valid IP address.") from None
    if gw.version != net.version:
        raise invalid("Gateway IP version inconsistent with allocation pool version.")
    if net.version == 4 and net.prefixlen < 31 and gw in (net.network_address, net.broadcast_address):
        raise invalid("Gateway is not valid on subnet.")
    return str(gw)


def _check_dns(nameservers) -> list[str]:
    seen = []
    for server in nameservers or []:
        try:
            ipaddress.ip_address(server)
        except ValueError:
            raise invalid(f"'{server}' is not a valid nameserver.") from None
        if server in seen:
            raise invalid(f"Duplicate nameserver '{server}'.")
        seen.append(server)
    return seen


def _check_routes(routes) -> list[dict]:
    checked = []
    for route in routes or []:
        try:
            destination = str(ipaddress.ip_network(route["destination"]))
            nexthop = str(ipaddress.ip_address(route["nexthop"]))
        except (KeyError, ValueError, TypeError):
            raise invalid(f"Invalid host route {route}.") from None
        checked.append({"destination": destination, "nexthop": nexthop})
    return checked


def _from_pool(db: Session, pool: SubnetPool, prefixlen: int | None, ip_version: int) -> str:
    prefixlen = prefixlen or pool.default_prefixlen
    if not pool.min_prefixlen <= prefixlen <= pool.max_prefixlen:
        raise invalid(f"prefixlen {prefixlen} out of the pool's range {pool.min_prefixlen}-{pool.max_prefixlen}.")
    used = [ipaddress.ip_network(c) for c in db.scalars(sa.select(Subnet.cidr).where(Subnet.subnetpool_id == pool.id))]
    for prefix in pool.prefixes:
        for candidate in ipaddress.ip_network(prefix).subnets(new_prefix=prefixlen):
            if not any(candidate.overlaps(u) for u in used):
                return str(candidate)
    raise Conflict(f"Insufficient prefix space to allocate subnet size /{prefixlen}.",
                   kind="SubnetAllocationError")


def create(db: Session, ctx: Context, network: Network, *, project_id: str, ip_version: int, cidr: str | None,
           name: str = "", gateway_ip="auto", enable_dhcp: bool = True, allocation_pools=None,
           dns_nameservers=(), host_routes=(), ipv6_ra_mode=None, ipv6_address_mode=None,
           subnetpool_id=None, use_default_subnetpool=False, prefixlen=None, description="",
           service_types=()) -> Subnet:
    if ip_version not in (4, 6):
        raise invalid(f"{ip_version} is not in [4, 6].")
    _check_ipv6_modes(ip_version, ipv6_ra_mode, ipv6_address_mode)
    pool = None
    if use_default_subnetpool and not subnetpool_id:
        pool = db.scalars(sa.select(SubnetPool).where(SubnetPool.is_default.is_(True),
                                                      SubnetPool.ip_version == ip_version)).first()
        if pool is None:
            raise BadRequest(f"No default subnetpool found for IPv{ip_version}.")
    elif subnetpool_id:
        pool = db.get(SubnetPool, subnetpool_id)
        if pool is None or not (ctx.is_admin or pool.shared or pool.project_id == ctx.project_id):
            raise NotFound(f"Subnet pool {subnetpool_id} could not be found.", kind="SubnetPoolNotFound")
        if pool.ip_version != ip_version:
            raise invalid("Cannot allocate IPv%d subnet from IPv%d subnet pool." % (ip_version, pool.ip_version))
    if cidr is None:
        if pool is None:
            raise BadRequest("Bad subnets request: a cidr must be specified in the absence of a subnet pool.")
        cidr = _from_pool(db, pool, prefixlen, ip_version)
    elif pool is not None and not any(ipaddress.ip_network(cidr).subnet_of(ipaddress.ip_network(p))
                                      for p in pool.prefixes if ipaddress.ip_network(p).version == ip_version):
        raise BadRequest(f"Cidr {cidr} is not within the prefixes of subnet pool {pool.id}.")
    net = _network(cidr, ip_version)
    for other in db.scalars(sa.select(Subnet.cidr).where(Subnet.network_id == network.id)):
        if ipaddress.ip_network(other).overlaps(net):
            raise invalid(f"Requested subnet with cidr: {cidr} for network: {network.id} overlaps with"
                          f" another subnet.")
    if gateway_ip == "auto":
        gateway = str(net.network_address + 1) if net.num_addresses > 2 or net.version == 6 else None
    else:
        gateway = _check_gateway(net, gateway_ip)
    pools = _check_pools(net, allocation_pools, gateway) if allocation_pools else ipam.default_pools(cidr, gateway)
    subnet = Subnet(project_id=project_id, network_id=network.id, name=name, ip_version=ip_version, cidr=cidr,
                    gateway_ip=gateway, enable_dhcp=enable_dhcp, ipv6_ra_mode=ipv6_ra_mode,
                    ipv6_address_mode=ipv6_address_mode, subnetpool_id=pool.id if pool else None,
                    dns_nameservers=_check_dns(dns_nameservers), host_routes=_check_routes(host_routes),
                    allocation_pools=pools, description=description, service_types=list(service_types))
    db.add(subnet)
    db.flush()
    if ipam.is_slaac(subnet):  # ports already on the network gain their SLAAC address, as in Neutron
        for port in db.scalars(sa.select(Port).where(Port.network_id == network.id,
                                                     sa.not_(Port.device_owner.in_(NETWORK_OWNED)))):
            ipam.allocate(db, subnet, port)
    return subnet


def update(db: Session, subnet: Subnet, changes: dict) -> Subnet:
    net = ipaddress.ip_network(subnet.cidr)
    if "gateway_ip" in changes:
        gateway = _check_gateway(net, changes["gateway_ip"])
        if gateway and ipam.in_pools(subnet, gateway) and "allocation_pools" not in changes:
            raise Conflict(f"Gateway ip {gateway} conflicts with allocation pool.",
                           kind="GatewayConflictWithAllocationPools")
        subnet.gateway_ip = gateway
    if "allocation_pools" in changes:
        subnet.allocation_pools = _check_pools(net, changes["allocation_pools"] or [], subnet.gateway_ip)
    if "dns_nameservers" in changes:
        subnet.dns_nameservers = _check_dns(changes["dns_nameservers"])
    if "host_routes" in changes:
        subnet.host_routes = _check_routes(changes["host_routes"])
    for key in ("name", "enable_dhcp", "description", "service_types"):
        if key in changes:
            setattr(subnet, key, changes[key])
    db.flush()
    return subnet


def delete(db: Session, subnet: Subnet) -> None:
    in_use = db.execute(sa.select(Port.id, Port.device_owner).join(IPAllocation, IPAllocation.port_id == Port.id)
                        .where(IPAllocation.subnet_id == subnet.id)).all()
    blocking = [pid for pid, owner in in_use if owner not in NETWORK_OWNED and owner != "network:dhcp"]
    if blocking or any(owner.startswith("network:router_interface") for _, owner in in_use):
        raise Conflict(f"Unable to complete operation on subnet {subnet.id}: One or more ports have an IP"
                       f" allocation from this subnet.", kind="SubnetInUse")
    db.execute(sa.delete(IPAllocation).where(IPAllocation.subnet_id == subnet.id))
    db.delete(subnet)
    db.flush()
