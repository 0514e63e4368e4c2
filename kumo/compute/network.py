"""A server's networking, through the network service's contract (``kumo.network.internal``).

Ports are allocated in the transaction that creates the server and released with it; addresses
and interfaces are read from the ports.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from kumo.compute.driver import Vif
from kumo.context import Context
from kumo.errors import BadRequest, NotFound

from kumo.network import internal as _net


def allocate(db: Session, ctx: Context, *, server_id: str, project_id: str, requested,
             security_groups: list[str]) -> None:
    if requested == []:
        requested = "none"
    try:
        _net.allocate_for_server(db, ctx, server_id=server_id, project_id=project_id, requested=requested,
                                 security_group_refs=security_groups or ["default"])
    except NotFound as exc:  # Nova answers a bad port with 400 at create
        raise BadRequest(exc.message) from None


def release(db: Session, server) -> None:
    """The ports Nova created go with the server; those the user passed in stay, unbound (Nova's
    ``preserve_on_delete``)."""
    passed_in = {item["port"] for item in server.networks if isinstance(item, dict) and item.get("port")}
    _net.release_for_server(db, server.id, preserve=passed_in)


def addresses(db: Session, server_ids: list[str]) -> dict[str, dict[str, list[dict]]]:
    """Per server, per network name: ``[{version, addr, OS-EXT-IPS:type, OS-EXT-IPS-MAC:mac_addr}]``."""
    if not server_ids:
        return {}
    return _net.addresses(db, server_ids)


def interfaces(db: Session, server_id: str) -> list[dict]:
    """The server's ports as Nova's os-interface shows them."""
    from kumo.network import ipam

    return [{"port_id": p.id, "net_id": p.network_id, "mac_addr": p.mac_address, "port_state": p.status,
             "fixed_ips": ipam.fixed_ips(db, p.id)} for p in _net.server_ports(db, server_id)]


def vifs(db: Session, server_id: str) -> tuple[Vif, ...]:
    return _net.vifs(db, server_id)


def plugged_servers(db: Session, server_ids: list[str]) -> set[str]:
    return _net.plugged_servers(db, server_ids)


def wake_agent(cloud) -> None:
    _net.wake_agent(cloud)


def security_group_ids(db: Session, project_id: str, names: list[str]) -> list[str]:
    return _net.resolve_security_groups(db, project_id, names)


def set_port_security_groups(db: Session, server_id: str, group_ids: list[str]) -> None:
    """What add/removeSecurityGroup change: the groups on every port of the server."""
    for port in _net.server_ports(db, server_id):
        if port.port_security_enabled:
            port.security_group_ids = list(group_ids)
    db.flush()


# -- the os-security-groups proxy (≤ 2.35): Neutron's groups as Nova shows them -------------------

def _groups():
    from kumo.network import security_groups

    return security_groups


def list_groups(db: Session, ctx: Context, project_id: str | None) -> list:
    import sqlalchemy as sa

    from kumo.network.models import SecurityGroup

    groups = _groups()
    if project_id:
        groups.default_group(db, project_id)
    query = sa.select(SecurityGroup).order_by(SecurityGroup.created_at, SecurityGroup.id)
    if project_id:
        query = query.where(SecurityGroup.project_id == project_id)
    return list(db.scalars(query))


def get_group(db: Session, ctx: Context, group_id: str):
    return _groups().get(db, ctx, group_id)


def groups_of_server(db: Session, project_id: str, names: list[str]) -> list:
    from kumo.network.models import SecurityGroup

    groups = _groups()
    return [db.get(SecurityGroup, gid) for gid in dict.fromkeys(security_group_ids(db, project_id, names))
            if groups is not None]


def create_group(db: Session, project_id: str, name: str, description: str):
    from kumo.errors import Conflict

    try:
        return _groups().create(db, project_id=project_id, name=name, description=description)
    except Conflict as exc:
        raise BadRequest(exc.message) from None


def update_group(db: Session, group, name: str, description: str):
    from kumo.errors import Conflict

    try:
        return _groups().update(db, group, {"name": name, "description": description})
    except Conflict as exc:
        raise BadRequest(exc.message) from None


def delete_group(db: Session, ctx: Context, group) -> None:
    from kumo.errors import Conflict

    if group.is_default:
        raise BadRequest("Removing default security group not allowed.")
    try:
        _groups().delete(db, ctx, group)
    except Conflict as exc:  # in use: Nova answers 400
        raise BadRequest(exc.message) from None


def rules_of(db: Session, group_ids: list[str]) -> dict:
    return _groups().rules_of(db, group_ids)
