"""Ports: addresses, MACs, security groups, bindings."""

from __future__ import annotations

import ipaddress
import re

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.errors import BadRequest, Conflict, NotFound
from kumo.network import ipam, security_groups
from kumo.network.models import FloatingIP, IPAllocation, Network, Port, Subnet

MAC_RE = re.compile(r"^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$")


def not_found(port_id: str) -> NotFound:
    return NotFound(f"Port {port_id} could not be found.", kind="PortNotFound")


def get(db: Session, ctx: Context, port_id: str) -> Port:
    port = db.get(Port, port_id)
    if port is None or not (ctx.is_admin or port.project_id == ctx.project_id):
        raise not_found(port_id)
    return port


def _check_mac(db: Session, network_id: str, mac: str) -> str:
    if not isinstance(mac, str) or not MAC_RE.match(mac) or int(mac.replace("-", ":").split(":")[0], 16) & 1:
        raise BadRequest(f"Invalid input for mac_address. Reason: '{mac}' is not a valid MAC address.",
                         kind="InvalidInput")
    mac = mac.lower().replace("-", ":")
    if db.scalar(sa.select(Port.id).where(Port.network_id == network_id, Port.mac_address == mac)):
        raise Conflict(f"Unable to complete operation for network {network_id}. The mac address {mac} is in use.",
                       kind="MacAddressInUse")
    return mac


def _check_pairs(pairs) -> list[dict]:
    checked = []
    for pair in pairs or []:
        if not isinstance(pair, dict) or "ip_address" not in pair:
            raise BadRequest("Allowed address pairs must be a list of objects with an ip_address.",
                             kind="AllowedAddressPairsMissingIP")
        try:
            ipaddress.ip_network(pair["ip_address"], strict=False)
        except ValueError:
            raise BadRequest(f"'{pair['ip_address']}' is not a valid IP address.", kind="InvalidInput") from None
        entry = {"ip_address": pair["ip_address"]}
        if pair.get("mac_address"):
            entry["mac_address"] = pair["mac_address"].lower()
        if entry in checked:
            raise BadRequest("Request contains duplicate address pair.", kind="DuplicateAddressPairInRequest")
        checked.append(entry)
    return checked


def _subnets(db: Session, network_id: str) -> list[Subnet]:
    return list(db.scalars(sa.select(Subnet).where(Subnet.network_id == network_id).order_by(Subnet.created_at,
                                                                                             Subnet.id)))


def _assign_ips(db: Session, port: Port, requested) -> list[dict]:
    """Allocate the addresses ``requested`` (Neutron's ``fixed_ips``; None: the defaults); returns them."""
    subnets = {s.id: s for s in _subnets(db, port.network_id)}
    assigned = []
    if requested is None:  # Neutron's default: one IPv4 address, every SLAAC address, one stateful IPv6
        v4_done = v6_done = False
        for subnet in subnets.values():
            if subnet.ip_version == 4 and not v4_done:
                assigned.append({"subnet_id": subnet.id, "ip_address": ipam.allocate(db, subnet, port)})
                v4_done = True
            elif subnet.ip_version == 6 and (ipam.is_slaac(subnet) or not v6_done):
                assigned.append({"subnet_id": subnet.id, "ip_address": ipam.allocate(db, subnet, port)})
                v6_done = v6_done or not ipam.is_slaac(subnet)
        return assigned
    for item in requested:
        if not isinstance(item, dict) or not (item.get("subnet_id") or item.get("ip_address")):
            raise BadRequest("Invalid input for fixed_ips: each entry needs a subnet_id or an ip_address.",
                             kind="InvalidInput")
        subnet = subnets.get(item.get("subnet_id")) if item.get("subnet_id") else None
        if item.get("subnet_id") and subnet is None:
            if db.get(Subnet, item["subnet_id"]) is None:
                raise NotFound(f"Subnet {item['subnet_id']} could not be found.", kind="SubnetNotFound")
            raise BadRequest(f"Invalid input for operation: Failed to create port on network {port.network_id},"
                             f" because fixed_ips included invalid subnet {item['subnet_id']}.",
                             kind="InvalidInput")
        address = item.get("ip_address")
        if subnet is None:
            subnet = next((s for s in subnets.values()
                           if ipaddress.ip_address(address) in ipaddress.ip_network(s.cidr)), None)
            if subnet is None:
                raise BadRequest(f"IP address {address} is not a valid IP for any of the subnets on the specified"
                                 f" network.", kind="InvalidIpForNetwork")
        if ipam.is_slaac(subnet) and address and address != ipam.eui64(subnet.cidr, port.mac_address) \
                and not port.device_owner.startswith("network:router_interface"):
            raise BadRequest(f"IPv6 address {address} cannot be directly assigned to a port on subnet"
                             f" {subnet.id} since the subnet is configured for automatic addresses",
                             kind="InvalidInput")
        assigned.append({"subnet_id": subnet.id, "ip_address": ipam.allocate(db, subnet, port, address)})
    return assigned


def create(db: Session, ctx: Context, network: Network, *, project_id: str, name: str = "",
           mac_address: str | None = None, fixed_ips=None, admin_state_up: bool = True, device_id: str = "",
           device_owner: str = "", security_groups_ids=None, port_security_enabled: bool | None = None,
           allowed_address_pairs=(), description: str = "", binding: dict | None = None,
           extra_dhcp_opts=()) -> Port:
    port_security = network.port_security_enabled if port_security_enabled is None else port_security_enabled
    network_owned = device_owner.startswith("network:")
    if security_groups_ids is None:
        groups = [] if (network_owned or not port_security) else [security_groups.default_group_id(db, project_id)]
    else:
        groups = [security_groups.get(db, ctx, gid).id for gid in dict.fromkeys(security_groups_ids)]
    if groups and not port_security:
        raise BadRequest("Port has security group associated. Cannot disable port security or ip address until"
                         " security group is removed", kind="PortSecurityAndIPRequiredForSecurityGroups")
    if allowed_address_pairs and not port_security:
        raise Conflict("Port Security must be enabled in order to have allowed address pairs on a port.",
                       kind="AddressPairAndPortSecurityRequired")
    port = Port(project_id=project_id, network_id=network.id, name=name,
                mac_address=_check_mac(db, network.id, mac_address) if mac_address else ipam.unique_mac(db, network.id),
                admin_state_up=admin_state_up, device_id=device_id, device_owner=device_owner,
                port_security_enabled=port_security, security_group_ids=groups,
                allowed_address_pairs=_check_pairs(allowed_address_pairs), description=description,
                extra_dhcp_opts=list(extra_dhcp_opts))
    _apply_binding(port, binding or {})
    db.add(port)
    db.flush()
    port.assigned_ips = _assign_ips(db, port, fixed_ips)  # its fixed IPs, for the reply (not a column)
    db.flush()
    return port


def _apply_binding(port: Port, binding: dict) -> None:
    if "binding:host_id" in binding:
        port.binding_host_id = binding["binding:host_id"] or ""
    if "binding:vnic_type" in binding:
        port.binding_vnic_type = binding["binding:vnic_type"]
    if "binding:profile" in binding:
        port.binding_profile = binding["binding:profile"] or {}
    port.binding_vif_type = "ovs" if port.binding_host_id else "unbound"


def update(db: Session, ctx: Context, port: Port, changes: dict) -> Port:
    if "fixed_ips" in changes:
        wanted = changes["fixed_ips"] or []
        current = {(a["subnet_id"], a["ip_address"]) for a in ipam.fixed_ips(db, port.id)}
        keep = {(i.get("subnet_id"), i.get("ip_address")) for i in wanted if i.get("ip_address")}
        for subnet_id, address in current:
            if (subnet_id, address) not in keep and (None, address) not in keep:
                db.execute(sa.delete(IPAllocation).where(IPAllocation.port_id == port.id,
                                                         IPAllocation.ip_address == address))
        new = [i for i in wanted if not any(i.get("ip_address") == a for _, a in current)]
        _assign_ips(db, port, new)
    if "mac_address" in changes and changes["mac_address"] and changes["mac_address"] != port.mac_address:
        if not ctx.is_admin:
            raise BadRequest("Only admins may change the MAC address of a port.")
        port.mac_address = _check_mac(db, port.network_id, changes["mac_address"])
    if "port_security_enabled" in changes:
        port.port_security_enabled = changes["port_security_enabled"]
    if "security_groups" in changes:
        port.security_group_ids = [security_groups.get(db, ctx, g).id
                                   for g in dict.fromkeys(changes["security_groups"] or [])]
    if "allowed_address_pairs" in changes:
        port.allowed_address_pairs = _check_pairs(changes["allowed_address_pairs"])
    if not port.port_security_enabled and (port.security_group_ids or port.allowed_address_pairs):
        raise Conflict("Port security must be enabled and port must have an IP address in order to use"
                       " security groups.", kind="PortSecurityPortHasSecurityGroup")
    for key in ("name", "admin_state_up", "device_id", "device_owner", "description", "extra_dhcp_opts"):
        if key in changes:
            setattr(port, key, changes[key])
    _apply_binding(port, {k: v for k, v in changes.items() if k.startswith("binding:")})
    db.flush()
    return port


def _check_not_trunked(db: Session, port_id: str) -> None:
    """A trunk's parent or subport cannot be deleted (409), as in Neutron."""
    from kumo.network.trunk_models import SubPort, Trunk
    trunk_id = db.scalar(sa.select(Trunk.id).where(Trunk.port_id == port_id))
    if trunk_id:
        raise Conflict(f"Port {port_id} is currently a parent port for trunk {trunk_id}.",
                       kind="PortInUseAsTrunkParent")
    trunk_id = db.scalar(sa.select(SubPort.trunk_id).where(SubPort.port_id == port_id))
    if trunk_id:
        raise Conflict(f"Port {port_id} is currently a subport for trunk {trunk_id}.", kind="PortInUseAsSubPort")


def delete(db: Session, port: Port) -> None:
    _check_not_trunked(db, port.id)
    for fip in db.scalars(sa.select(FloatingIP).where(FloatingIP.port_id == port.id)):
        fip.port_id = fip.fixed_ip_address = fip.router_id = None
        fip.status = "DOWN"
    db.execute(sa.delete(IPAllocation).where(IPAllocation.port_id == port.id))
    db.delete(port)
    db.flush()
