"""A server's networking, through the network service's contract (``kumo.network.internal``).

Ports are allocated in the transaction that creates the server and released with it; addresses
and interfaces are read from the ports.

Interfaces are attached and detached by binding and unbinding ports (Nova's os-interface): the network
agent plugs a port into the instance once its binding names it (``device_id``, ``binding:host_id``) and
unplugs it once it does not. A port the user passes in is remembered in ``server.networks`` (as at boot),
so it outlives the server, unbound; a port made for a network is deleted on detach or with the server.
"""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.compute import instance_actions
from kumo.compute.driver import Vif
from kumo.context import Context
from kumo.db import utcnow
from kumo.errors import BadRequest, Conflict, NotFound

from kumo.network import internal as _net

log = logging.getLogger("kumo.compute")
ATTACHABLE = ("active", "paused", "stopped")  # Nova's states for attach/detach_interface (no task running)


def allocate(db: Session, ctx: Context, *, server_id: str, project_id: str, requested,
             security_groups: list[str]) -> None:
    if requested == []:
        requested = "none"
    try:
        ports = _net.allocate_for_server(db, ctx, server_id=server_id, project_id=project_id, requested=requested,
                                         security_group_refs=security_groups or ["default"])
    except NotFound as exc:  # Nova answers a bad port with 400 at create
        raise BadRequest(exc.message) from None
    if isinstance(requested, list) and len(ports) == len(requested):  # one port per asked-for item, in order
        for item, port in zip(requested, ports):
            if isinstance(item, dict) and item.get("tag"):
                tag_interface(db, server_id, port.id, item["tag"])


def tag_interface(db: Session, server_id: str, port_id: str, tag: str | None) -> None:
    """Remember a port's device tag (boot ``networks[].tag``, attach ``tag``), shown from 2.70."""
    from kumo.compute.models import InterfaceTag

    db.execute(sa.delete(InterfaceTag).where(InterfaceTag.port_id == port_id))
    if tag:
        db.add(InterfaceTag(port_id=port_id, server_id=server_id, tag=tag))


def interface_tags(db: Session, server_id: str) -> dict[str, str]:
    from kumo.compute.models import InterfaceTag

    rows = db.execute(sa.select(InterfaceTag.port_id, InterfaceTag.tag).where(InterfaceTag.server_id == server_id))
    return {port_id: tag for port_id, tag in rows}


def release(db: Session, server) -> None:
    """The ports Nova created go with the server; those the user passed in stay, unbound (Nova's
    ``preserve_on_delete``)."""
    _net.release_for_server(db, server.id, preserve=_passed_in(server))


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


def interface(db: Session, server_id: str, port_id: str) -> dict:
    found = next((i for i in interfaces(db, server_id) if i["port_id"] == port_id), None)
    if found is None:
        raise NotFound(f"Instance {server_id} does not have a port with id {port_id}")
    return found


def _passed_in(server) -> set[str]:
    return {item["port"] for item in server.networks if isinstance(item, dict) and item.get("port")}


def _check_attachable(server, ctx: Context, action: str) -> None:
    from kumo.compute import servers

    servers.check_unlocked(server, ctx)
    if server.task_state is not None:
        raise Conflict(f"Cannot '{action}' instance {server.id} while it is in task_state {server.task_state}")
    if server.vm_state not in ATTACHABLE:
        raise Conflict(f"Cannot '{action}' instance {server.id} while it is in vm_state {server.vm_state}")


def attach(db: Session, ctx: Context, server_id: str, *, port_id: str | None = None, net_id: str | None = None,
           fixed_ip: str | None = None, tag: str | None = None) -> str:
    """Bind a port to the server (the user's ``port_id``, or a new port on ``net_id``, or on the one network
    the project has); returns the port's id. Nova's answers: 404 unknown port or network, 409 a port in use,
    a fixed IP taken, the server locked or busy, 400 no network or several to choose from."""
    from kumo.compute import servers

    server = servers.get(db, server_id, for_update=True)
    _check_attachable(server, ctx, "attach_interface")
    if port_id:
        requested = [{"port": port_id}]
    elif net_id:
        from kumo.network.models import Network

        network = db.get(Network, net_id)
        if network is None or not (ctx.is_admin or network.project_id == server.project_id or network.shared):
            raise NotFound(f"Network {net_id} could not be found.")
        requested = [{"uuid": net_id, **({"fixed_ip": fixed_ip} if fixed_ip else {})}]
    else:
        requested = "auto"
    try:
        ports = _net.allocate_for_server(db, ctx, server_id=server.id, project_id=server.project_id,
                                         requested=requested, security_group_refs=server.security_groups or ["default"])
    except Conflict as exc:
        if requested == "auto":  # several networks: Nova's NetworkAmbiguous is a 400 here
            raise BadRequest(exc.message) from None
        raise
    if not ports:
        raise BadRequest(f"No specific network was requested and none are available for project "
                         f"'{server.project_id}'.")
    if port_id:
        server.networks = [*server.networks, {"port": port_id}]
    server.updated_at = utcnow()
    tag_interface(db, server.id, ports[0].id, tag)
    instance_actions.record(db, server.id, "attach_interface", ctx.request_id, ctx.project_id or server.project_id,
                            ctx.user_id)
    db.flush()
    return ports[0].id


def attached(cloud, server_id: str, port_id: str, timeout: float | None = None) -> None:
    """Wait (outside any transaction) until the agent has plugged ``port_id`` into the running instance — as
    Nova's attach returns once the device is in the guest — then close the instance action. After
    ``vif_plugging_timeout`` it answers anyway, the port as it is (Nova's ``vif_plugging_is_fatal = False``).
    A server that is not running, or a simulated backend, has nothing to plug into."""
    from kumo.compute import servers
    from kumo.network.models import Port

    timeout = float(cloud.settings.vif_plugging_timeout) if timeout is None else timeout
    deadline, error = time.monotonic() + timeout, None
    with cloud.db.session(write=False) as db:
        server = servers.get(db, server_id)
        waits = timeout > 0 and cloud.backend.name == "local" and server.vm_state in ("active", "paused")
    if waits:
        wake_agent(cloud)
        while True:
            with cloud.db.session(write=False) as db:
                port = db.get(Port, port_id)
                if port is None or port.device_id != server_id or not port.admin_state_up or port.status == "ACTIVE":
                    break
            if time.monotonic() > deadline:
                log.warning("server %s: port %s not plugged after %.0f s", server_id, port_id, timeout)
                error = f"Port {port_id} was not plugged within {timeout:.0f} s"
                break
            time.sleep(0.02)
    with cloud.db.session() as db:
        instance_actions.finish_event(db, server_id, "compute_attach_interface", error=error)


def detach(db: Session, ctx: Context, server, port_id: str) -> None:
    """Unbind the port from the server (the agent unplugs it): a port the user passed in stays, unbound;
    one made by attach or boot is deleted."""
    _check_attachable(server, ctx, "detach_interface")
    if port_id not in {p.id for p in _net.server_ports(db, server.id)}:
        raise NotFound(f"Port {port_id} is not attached")
    passed_in = _passed_in(server)
    _net.release_for_server(db, server.id, preserve=passed_in, only={port_id})
    tag_interface(db, server.id, port_id, None)
    if port_id in passed_in:
        server.networks = [n for n in server.networks if not (isinstance(n, dict) and n.get("port") == port_id)]
    server.updated_at = utcnow()
    instance_actions.record(db, server.id, "detach_interface", ctx.request_id, ctx.project_id or server.project_id,
                            ctx.user_id)
    db.flush()
    instance_actions.finish_event(db, server.id, "compute_detach_interface")


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
