"""Networks and their segments (provider attributes)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.db import new_id
from kumo.errors import BadRequest, Conflict, NotFound
from kumo.network import ipam
from kumo.network.models import Network, Port, Segment, Subnet

TYPES = ("local", "flat", "vlan", "vxlan")
VXLAN_RANGE = (1, 2 ** 24 - 1)
VLAN_RANGE = (1, 4094)
TENANT_MTU = 1450  # VXLAN overhead on a 1500-byte underlay
PHYSICAL_MTU = 1500


def not_found(network_id: str) -> NotFound:
    return NotFound(f"Network {network_id} could not be found.", kind="NetworkNotFound")


def visible(ctx: Context):
    return sa.or_(Network.project_id == (ctx.project_id or ""), Network.shared.is_(True),
                  Network.external.is_(True))


def get(db: Session, ctx: Context, network_id: str) -> Network:
    network = db.get(Network, network_id)
    if network is None or not (ctx.is_admin or network.project_id == ctx.project_id or network.shared
                               or network.external):
        raise not_found(network_id)
    return network


def create(db: Session, *, project_id: str, name: str = "", admin_state_up: bool = True, shared: bool = False,
           external: bool = False, mtu: int | None = None, port_security_enabled: bool = True,
           network_type: str | None = None, physical_network: str | None = None,
           segmentation_id: int | None = None, description: str = "", availability_zone_hints=(),
           is_default: bool = False) -> Network:
    network_type = network_type or ("flat" if physical_network and segmentation_id is None else "vxlan")
    if network_type not in TYPES:
        raise BadRequest(f"Invalid input for operation: network_type value '{network_type}' not supported.",
                         kind="InvalidInput")
    if network_type in ("flat", "vlan") and not physical_network:
        raise BadRequest(f"Invalid input for operation: physical_network required for {network_type}"
                         f" provider network.", kind="InvalidInput")
    if network_type in ("vxlan", "local") and physical_network:
        raise BadRequest(f"Invalid input for operation: provider:physical_network specified for"
                         f" {network_type} network.", kind="InvalidInput")
    if network_type in ("flat", "local") and segmentation_id is not None:
        raise BadRequest(f"Invalid input for operation: segmentation_id specified for {network_type}"
                         f" network.", kind="InvalidInput")
    default_mtu = TENANT_MTU if network_type == "vxlan" else PHYSICAL_MTU
    if mtu is not None and mtu > default_mtu:
        raise BadRequest(f"Requested MTU is too big, maximum is {default_mtu}.", kind="InvalidInput")
    network = Network(id=new_id(), project_id=project_id, name=name, admin_state_up=admin_state_up, shared=shared,
                      external=external, mtu=mtu or default_mtu, port_security_enabled=port_security_enabled,
                      network_type=network_type, physical_network=physical_network, description=description,
                      availability_zone_hints=list(availability_zone_hints), is_default=is_default)
    _allocate_segment(db, network, segmentation_id)
    return network


def _allocate_segment(db: Session, network: Network, wanted: int | None) -> None:
    """Insert ``network`` with its segment: the segmentation id is chosen first, so the network's row is
    written once, already holding it (then the segment's row, which refers to it)."""
    kind = network.network_type
    if kind in ("flat", "local"):
        _insert_network(db, network, None)
        if kind == "flat":
            _insert_segment(db, network, 0, f"Unable to create the flat network. Physical network"
                                            f" {network.physical_network} is in use.")
        return
    low, high = VLAN_RANGE if kind == "vlan" else VXLAN_RANGE
    if wanted is not None:
        if not low <= wanted <= high:
            raise BadRequest(f"Invalid input for operation: segmentation_id {wanted} out of range"
                             f" ({low} through {high}).", kind="InvalidInput")
        _insert_network(db, network, wanted)
        _insert_segment(db, network, wanted, f"Unable to create the network. The {kind} {wanted} on physical"
                                             f" network {network.physical_network} is in use.")
        return
    physical = network.physical_network or ""
    after = _cursor.get((kind, physical), low - 1)
    order = [(after + 1, high), (low, min(after, high))]  # from the hint on, then wrapping around
    for start, end in order:
        for first in range(start, end + 1, BATCH):
            last = min(first + BATCH - 1, end)
            taken = set(db.connection().execute(_TAKEN, {"type": kind, "physical": physical, "first": first,
                                                         "last": last}).scalars())
            for candidate in range(first, last + 1):
                if candidate in taken:
                    continue
                if network.segmentation_id is None:
                    _insert_network(db, network, candidate)
                else:  # a concurrent writer took the one chosen first (not on SQLite)
                    network.segmentation_id = candidate
                    db.flush()
                if _try_segment(db, network, candidate, checked=True):
                    _cursor[(kind, physical)] = candidate
                    return
    raise Conflict("Unable to create the network. No tenant network is available for allocation.",
                   kind="NoNetworkAvailable")


def _insert_network(db: Session, network: Network, segmentation_id: int | None) -> None:
    network.segmentation_id = segmentation_id
    db.add(network)
    db.flush()


# the segmentation ids in use in a range (a range, not a list: one statement, cached once compiled)
_TAKEN = sa.select(Segment.segmentation_id).where(
    Segment.network_type == sa.bindparam("type"), Segment.physical_network == sa.bindparam("physical"),
    Segment.segmentation_id.between(sa.bindparam("first"), sa.bindparam("last")))


# (type, physical network) → the segmentation id last allocated: the next search starts after it (a hint per
# process, so that many networks do not make every create read every segment; the unique key still decides)
_cursor: dict[tuple[str, str], int] = {}
BATCH = 64


def _try_segment(db: Session, network: Network, number: int, checked: bool = False) -> bool:
    insert = sa.insert(Segment).values(network_id=network.id, network_type=network.network_type,
                                       physical_network=network.physical_network or "", segmentation_id=number)
    if not ipam.concurrent_writers(db):  # checked under the database's write lock: no savepoint needed
        if not checked and _taken(db, network, number):
            return False
        db.execute(insert)
        return True
    try:
        with db.begin_nested():
            db.execute(insert)
        return True
    except IntegrityError:
        return False


def _taken(db: Session, network: Network, number: int) -> bool:
    return db.scalar(sa.select(Segment.network_id).where(
        Segment.network_type == network.network_type, Segment.physical_network == (network.physical_network or ""),
        Segment.segmentation_id == number)) is not None


def _insert_segment(db: Session, network: Network, number: int, message: str) -> None:
    if not _try_segment(db, network, number):
        raise Conflict(message, kind="SegmentationIdInUse" if number else "FlatNetworkInUse")


def update(db: Session, network: Network, changes: dict) -> Network:
    for key in ("name", "admin_state_up", "shared", "external", "port_security_enabled", "description",
                "mtu", "is_default"):
        if key in changes:
            setattr(network, key, changes[key])
    db.flush()
    return network


def delete(db: Session, network: Network) -> None:
    from kumo.network import ports, subnets

    blocking = db.scalars(sa.select(Port).where(
        Port.network_id == network.id,
        sa.not_(Port.device_owner.in_(["network:dhcp", "network:router_ha_interface"])))).first()
    if blocking is not None:
        raise Conflict(f"Unable to complete operation on network {network.id}. There are one or more ports"
                       f" still in use on the network.", kind="NetworkInUse")
    for port in db.scalars(sa.select(Port).where(Port.network_id == network.id)):
        ports.delete(db, port)
    for subnet in db.scalars(sa.select(Subnet).where(Subnet.network_id == network.id)):
        subnets.delete(db, subnet)
    db.execute(sa.delete(Segment).where(Segment.network_id == network.id))
    db.delete(network)
    db.flush()
