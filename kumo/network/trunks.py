"""Trunks (Neutron's ``trunk`` extension): one parent port carrying many subports, each told apart by a
segmentation (VLAN) id. Neutron's rules and error types; the data plane sets ``status`` when it binds."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.errors import BadRequest, Conflict, NotFound
from kumo.network import ports
from kumo.network.models import Network, Port
from kumo.network.trunk_models import SubPort, Trunk

VLAN = "vlan"
INHERIT = "inherit"
VLAN_RANGE = (1, 4094)
STATUSES = ("DOWN", "BUILD", "ACTIVE", "DEGRADED", "ERROR")
UPDATABLE = {"name", "description", "admin_state_up"}
SUBPORT_OWNER = "trunk:subport"  # a subport's device_owner (its device_id: the trunk), as Neutron sets them


def not_found(trunk_id: str) -> NotFound:
    return NotFound(f"Trunk {trunk_id} could not be found.", kind="TrunkNotFound")


def invalid(message: str) -> BadRequest:
    return BadRequest(f"Invalid input for operation: {message}.", kind="InvalidInput")


def get(db: Session, ctx: Context, trunk_id: str) -> Trunk:
    trunk = db.get(Trunk, trunk_id)
    if trunk is None or not (ctx.is_admin or trunk.project_id == ctx.project_id):
        raise not_found(trunk_id)
    return trunk


def subports_of(db: Session, trunk_ids: list[str]) -> dict[str, list[SubPort]]:
    found: dict[str, list[SubPort]] = {tid: [] for tid in trunk_ids}
    if trunk_ids:
        query = sa.select(SubPort).where(SubPort.trunk_id.in_(trunk_ids)).order_by(
            SubPort.segmentation_type, SubPort.segmentation_id, SubPort.port_id)
        for sub in db.scalars(query):
            found[sub.trunk_id].append(sub)
    return found


def render_subport(sub: SubPort) -> dict:
    return {"port_id": sub.port_id, "segmentation_type": sub.segmentation_type,
            "segmentation_id": sub.segmentation_id}


def check_subports(value, *, removing: bool = False) -> list[dict]:
    """The request's ``sub_ports``, checked as Neutron's ``type:subports`` validator does (400s)."""
    if not isinstance(value, list):
        raise invalid(f"Invalid data format for subport: '{value}' is not a list")
    seen_ports: set[str] = set()
    seen_ids: set[tuple[str, int]] = set()
    checked = []
    for sub in value:
        if not isinstance(sub, dict):
            raise invalid(f"Invalid data format for subport: '{sub}'")
        port_id = sub.get("port_id")
        if not isinstance(port_id, str) or not port_id:
            raise invalid(f"A valid port UUID must be specified for subport '{sub}'")
        if port_id in seen_ports:
            raise invalid(f"Non unique UUID for subport: '{port_id}'")
        seen_ports.add(port_id)
        kind = sub.get("segmentation_type")
        if removing:
            checked.append({"port_id": port_id})
            continue
        if kind == INHERIT:
            checked.append({"port_id": port_id, "segmentation_type": INHERIT})
            continue
        seg_id = sub.get("segmentation_id")
        if not kind or seg_id is None:
            raise invalid(f"Invalid subport details '{sub}': missing segmentation information. Must specify both"
                          f" segmentation_id and segmentation_type")
        if kind != VLAN:
            raise invalid(f"Unknown segmentation_type '{kind}'")
        try:
            if isinstance(seg_id, bool):
                raise TypeError
            seg_id = int(seg_id)
        except (TypeError, ValueError):
            raise invalid(f"Invalid subport details: segmentation_id '{sub.get('segmentation_id')}' is not an"
                          f" integer") from None
        if not VLAN_RANGE[0] <= seg_id <= VLAN_RANGE[1]:
            raise invalid(f"Segmentation ID '{seg_id}' for '{port_id}' is not in range")
        if (kind, seg_id) in seen_ids:
            raise invalid(f"Segmentation ID '{seg_id}' for '{port_id}' is not unique")
        seen_ids.add((kind, seg_id))
        checked.append({"port_id": port_id, "segmentation_type": kind, "segmentation_id": seg_id})
    return checked


def _check_parent(db: Session, port_id: str) -> None:
    if db.scalar(sa.select(SubPort.trunk_id).where(SubPort.port_id == port_id)):
        raise Conflict(f"Port {port_id} is in use by another trunk.", kind="TrunkPortInUse")
    if db.scalar(sa.select(Trunk.id).where(Trunk.port_id == port_id)):
        raise Conflict(f"Port {port_id} is currently in use and is not eligible for use as a parent port.",
                       kind="ParentPortInUse")


def _attach(db: Session, ctx: Context, trunk: Trunk, parent: Port, wanted: list[dict]) -> None:
    """Validate ``wanted`` (already format-checked) against the ports and the trunk, then add them."""
    trunk_mtu = db.get(Network, parent.network_id).mtu
    taken = {(s.segmentation_type, s.segmentation_id) for s in subports_of(db, [trunk.id])[trunk.id]}
    for sub in wanted:
        if sub["port_id"] == parent.id:
            raise Conflict(f"Port {parent.id} is currently in use and is not eligible for use as a parent port.",
                           kind="ParentPortInUse")
        port = ports.get(db, ctx, sub["port_id"])
        network = db.get(Network, port.network_id)
        if sub["segmentation_type"] == INHERIT:
            if network.network_type != VLAN or network.segmentation_id is None:
                raise invalid(f"Unknown segmentation_type '{network.network_type}': port {port.id} cannot inherit"
                              f" segmentation details from its network")
            sub = dict(sub, segmentation_type=VLAN, segmentation_id=network.segmentation_id)
        if network.mtu > trunk_mtu:
            raise Conflict(f"MTU {network.mtu} of subport {port.id} cannot be greater than MTU {trunk_mtu} of trunk"
                           f" {trunk.id}.", kind="SubPortMtuGreaterThanTrunkPortMtu")
        _check_parent(db, port.id)
        if port.device_id:
            raise Conflict(f"Unable to complete operation on port {port.id} for network {port.network_id}. Port"
                           f" already has an attached device {port.device_id}.", kind="PortInUse")
        key = (sub["segmentation_type"], sub["segmentation_id"])
        if key in taken:
            raise Conflict(f"segmentation_type {key[0]} and segmentation_id {key[1]} already in use on trunk"
                           f" {trunk.id}.", kind="DuplicateSubPort")
        taken.add(key)
        db.add(SubPort(trunk_id=trunk.id, port_id=port.id, segmentation_type=key[0], segmentation_id=key[1]))
        port.device_owner, port.device_id = SUBPORT_OWNER, trunk.id  # the agent binds it when it plugs it
        db.flush()


def _release(db: Session, port_ids: list[str]) -> None:
    """Subports leaving their trunk: no longer owned, bound or up (as Neutron's trunk driver leaves them)."""
    for port in db.scalars(sa.select(Port).where(Port.id.in_(port_ids))) if port_ids else []:
        if port.device_owner == SUBPORT_OWNER:
            port.device_owner, port.device_id, port.binding_host_id, port.status = "", "", "", "DOWN"
            port.binding_vif_type = "unbound"


def create(db: Session, ctx: Context, project_id: str, item: dict) -> Trunk:
    wanted = check_subports(item.get("sub_ports") if item.get("sub_ports") is not None else [])
    if not item.get("port_id"):
        raise BadRequest("Failed to parse request. Required attribute 'port_id' not specified",
                         kind="HTTPBadRequest")
    parent = ports.get(db, ctx, item["port_id"])
    _check_parent(db, parent.id)
    trunk = Trunk(project_id=project_id, port_id=parent.id, name=item.get("name") or "",
                  description=item.get("description") or "", admin_state_up=item.get("admin_state_up", True),
                  status="DOWN")
    db.add(trunk)
    db.flush()
    _attach(db, ctx, trunk, parent, wanted)
    return trunk


def _manageable(trunk: Trunk) -> None:
    if not trunk.admin_state_up:
        raise Conflict(f"Trunk {trunk.id} is currently disabled.", kind="TrunkDisabled")


def update(db: Session, trunk: Trunk, changes: dict) -> Trunk:
    for key in UPDATABLE & set(changes):
        setattr(trunk, key, changes[key] if changes[key] is not None or key == "admin_state_up" else "")
    db.flush()
    return trunk


def add_subports(db: Session, ctx: Context, trunk: Trunk, value) -> Trunk:
    _manageable(trunk)
    wanted = check_subports(value)
    _attach(db, ctx, trunk, db.get(Port, trunk.port_id), wanted)
    return trunk


def remove_subports(db: Session, trunk: Trunk, value) -> Trunk:
    _manageable(trunk)
    wanted = check_subports(value, removing=True)
    current = {s.port_id: s for s in subports_of(db, [trunk.id])[trunk.id]}
    for sub in wanted:
        if sub["port_id"] not in current:
            raise NotFound(f"SubPort {sub['port_id']} could not be found for trunk {trunk.id}.",
                           kind="SubPortNotFound")
    for sub in wanted:
        db.delete(current[sub["port_id"]])
    _release(db, [sub["port_id"] for sub in wanted])
    db.flush()
    return trunk


def parent_unbound(db: Session, trunk_id: str) -> None:
    """The parent's instance went: the trunk and its subports go ``DOWN``, the subports unbound (as Neutron
    does when a trunk's parent port loses its binding); they come back when the parent is plugged again."""
    trunk = db.get(Trunk, trunk_id)
    trunk.status = "DOWN"
    subs = [s.port_id for s in subports_of(db, [trunk_id])[trunk_id]]
    for port in db.scalars(sa.select(Port).where(Port.id.in_(subs))) if subs else []:
        port.binding_host_id, port.binding_vif_type, port.status = "", "unbound", "DOWN"
    db.flush()


def delete(db: Session, trunk: Trunk) -> None:
    _manageable(trunk)
    parent = db.get(Port, trunk.port_id)
    if parent is not None and parent.device_id:
        raise Conflict(f"Trunk {trunk.id} is currently in use.", kind="TrunkInUse")
    _release(db, [s.port_id for s in subports_of(db, [trunk.id])[trunk.id]])
    db.execute(sa.delete(SubPort).where(SubPort.trunk_id == trunk.id))
    db.delete(trunk)
    db.flush()


def details_by_port(db: Session, port_ids: list[str]) -> dict[str, dict]:
    """``trunk_details`` (the ``trunk-details`` extension) for those of ``port_ids`` that are trunk parents."""
    if not port_ids:
        return {}
    trunks = {t.id: t.port_id for t in db.scalars(sa.select(Trunk).where(Trunk.port_id.in_(port_ids)))}
    subs = subports_of(db, list(trunks))
    macs = dict(db.execute(sa.select(Port.id, Port.mac_address).where(
        Port.id.in_([s.port_id for group in subs.values() for s in group])
    )).all()) if trunks else {}
    return {port_id: {"trunk_id": tid, "sub_ports": [dict(render_subport(s), mac_address=macs.get(s.port_id))
                                                     for s in subs[tid]]}
            for tid, port_id in trunks.items()}

