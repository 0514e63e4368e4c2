"""What other Kumo services ask of networking (Nova's calls to Neutron, made in-process).

All of it runs in the caller's transaction: ports for a server are created
with the server row and deleted with it.
"""

from __future__ import annotations

import ipaddress

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.compute.driver import Vif
from kumo.context import Context
from kumo.errors import BadRequest, Conflict, Forbidden, NotFound
from kumo.network import ipam, ports, quotas, security_groups
from kumo.network.models import Network, Port, SecurityGroup, Subnet

COMPUTE_OWNER = "compute:nova"


def _visible_networks(db: Session, project_id: str) -> list[Network]:
    return list(db.scalars(sa.select(Network).where(
        sa.or_(Network.project_id == project_id, Network.shared.is_(True)), Network.external.is_(False))))


def resolve_security_groups(db: Session, project_id: str, names_or_ids: list[str]) -> list[str]:
    """Nova names security groups by name (or id); ``default`` is the project's default group."""
    found = []
    for ref in names_or_ids or []:
        if ref == "default":
            found.append(security_groups.default_group(db, project_id).id)
            continue
        group = db.scalars(sa.select(SecurityGroup).where(
            SecurityGroup.project_id == project_id,
            sa.or_(SecurityGroup.id == ref, SecurityGroup.name == ref))).first()
        if group is None:
            raise BadRequest(f"Unable to find security_group with name or id '{ref}'")
        found.append(group.id)
    return found


def allocate_for_server(db: Session, ctx: Context, *, server_id: str, project_id: str, requested,
                        security_group_refs=("default",), host: str = "kumo") -> list[Port]:
    """Create (or take over) the server's ports as Nova asks: ``"none"``, ``"auto"``, a list of
    ``{"uuid"|"port", "fixed_ip"}``, or ``None`` (no ``networks`` key: the one network the project has)."""
    if requested == "none":
        return []
    if requested is None or requested == "auto":
        candidates = _visible_networks(db, project_id)
        if not candidates:
            return []
        if len(candidates) > 1:
            raise Conflict("Multiple possible networks found, use a Network ID to be more specific.")
        requested = [{"uuid": candidates[0].id}]
    group_ids = resolve_security_groups(db, project_id, list(security_group_refs or []))
    try:  # the ports Nova creates count against the project's Neutron quota, as in Neutron
        quotas.check(db, project_id, "port", adding=sum(1 for item in requested if not item.get("port")))
    except Conflict:  # what Nova answers when Neutron says OverQuota
        raise Forbidden("Maximum number of ports exceeded", kind="PortLimitExceeded") from None
    created = []
    for item in requested:
        if item.get("port"):
            port = db.get(Port, item["port"])
            if port is None or not (ctx.is_admin or port.project_id == project_id):
                raise NotFound(f"Port id {item['port']} could not be found.")
            if port.device_id:
                raise Conflict(f"Port {port.id} is still in use.")
            port.device_id, port.device_owner = server_id, COMPUTE_OWNER
            port.binding_host_id = host  # bound to the compute host, as Nova does: the agent plugs it there
        else:
            network = db.get(Network, item.get("uuid"))
            if network is None or not (ctx.is_admin or network.project_id == project_id or network.shared):
                raise BadRequest(f"Network {item.get('uuid')} could not be found.")
            if not db.scalar(sa.select(Subnet.id).where(Subnet.network_id == network.id)):
                raise BadRequest(f"Network {network.id} requires a subnet in order to boot instances on.")
            fixed = [{"ip_address": item["fixed_ip"]}] if item.get("fixed_ip") else None
            port = ports.create(db, ctx, network, project_id=project_id, device_id=server_id,
                                device_owner=COMPUTE_OWNER, fixed_ips=fixed,
                                security_groups_ids=group_ids if network.port_security_enabled else [],
                                binding={"binding:host_id": host})
        created.append(port)
    return created


def server_ports(db: Session, server_id: str) -> list[Port]:
    return list(db.scalars(sa.select(Port).where(Port.device_id == server_id,
                                                 Port.device_owner == COMPUTE_OWNER).order_by(Port.created_at)))


def plugged_servers(db: Session, server_ids: list[str]) -> set[str]:
    """Those of the servers whose ports the agent has plugged (every port administratively up shows
    ACTIVE): what Nova waits for as ``network-vif-plugged`` before it calls a server ACTIVE."""
    waiting = set()
    for device_id, status, admin_up in db.execute(
            sa.select(Port.device_id, Port.status, Port.admin_state_up)
            .where(Port.device_id.in_(server_ids), Port.device_owner == COMPUTE_OWNER)):
        if admin_up and status != "ACTIVE":
            waiting.add(device_id)
    return set(server_ids) - waiting


def wake_agent(cloud) -> None:
    """Ask this host's network agent for a pass now (an instance just made its namespace to plug into)."""
    if cloud.backend.name == "local":
        from kumo.network.agent import DEFAULT_HOST, TOPIC

        cloud.workers.submit(TOPIC, DEFAULT_HOST)


def release_for_server(db: Session, server_id: str, preserve: set[str] = frozenset(),
                       only: set[str] | None = None) -> None:
    """Delete the server's ports (or those of them in ``only``: an interface detached), but for those in
    ``preserve`` (passed in by the user) and trunk parents, which outlive the server, unbound."""
    from kumo.network import trunks
    from kumo.network.trunk_models import Trunk
    for port in server_ports(db, server_id):
        if only is not None and port.id not in only:
            continue
        trunk_id = db.scalar(sa.select(Trunk.id).where(Trunk.port_id == port.id))
        if trunk_id or port.id in preserve:
            port.device_id = port.device_owner = port.binding_host_id = ""
            port.status = "DOWN"
            if trunk_id:
                trunks.parent_unbound(db, trunk_id)
            continue
        ports.delete(db, port)


def addresses(db: Session, server_ids: list[str]) -> dict[str, dict[str, list[dict]]]:
    """Nova's ``addresses``: per server, per network name, the fixed (and floating) IPs."""
    from kumo.network.models import FloatingIP

    result: dict[str, dict[str, list[dict]]] = {sid: {} for sid in server_ids}
    if not server_ids:
        return result
    rows = list(db.scalars(sa.select(Port).where(Port.device_id.in_(server_ids),
                                                 Port.device_owner == COMPUTE_OWNER).order_by(Port.created_at)))
    names = {n.id: n.name for n in db.scalars(sa.select(Network).where(
        Network.id.in_({p.network_id for p in rows})))} if rows else {}
    ips = ipam.fixed_ips_by_port(db, [p.id for p in rows])
    floating = {}
    if rows:
        for fip in db.scalars(sa.select(FloatingIP).where(FloatingIP.port_id.in_([p.id for p in rows]))):
            floating.setdefault(fip.port_id, []).append(fip.floating_ip_address)
    for port in rows:
        entries = result[port.device_id].setdefault(names.get(port.network_id, port.network_id), [])
        for allocation in ips[port.id]:
            entries.append({"version": ipaddress.ip_address(allocation["ip_address"]).version,
                            "addr": allocation["ip_address"], "OS-EXT-IPS:type": "fixed",
                            "OS-EXT-IPS-MAC:mac_addr": port.mac_address})
        for address in floating.get(port.id, []):
            entries.append({"version": 4, "addr": address, "OS-EXT-IPS:type": "floating",
                            "OS-EXT-IPS-MAC:mac_addr": port.mac_address})
    return result


def vifs(db: Session, server_id: str) -> tuple[Vif, ...]:
    """The server's interfaces as a compute driver plugs them."""
    result = []
    for port in server_ports(db, server_id):
        network = db.get(Network, port.network_id)
        addrs, gateway = [], None
        for allocation in ipam.fixed_ips(db, port.id):
            subnet = db.get(Subnet, allocation["subnet_id"])
            prefix = ipaddress.ip_network(subnet.cidr).prefixlen
            addrs.append(f"{allocation['ip_address']}/{prefix}")
            if subnet.ip_version == 4 and gateway is None:
                gateway = subnet.gateway_ip
        result.append(Vif(port_id=port.id, mac=port.mac_address, addresses=tuple(addrs), gateway=gateway,
                          mtu=network.mtu if network else 1500, network_id=port.network_id))
    return tuple(result)
