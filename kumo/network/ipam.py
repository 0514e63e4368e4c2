"""Addresses: MACs, fixed IPs from allocation pools, SLAAC (EUI-64), subnet pools.

A double allocation is impossible by construction: every address is a row
whose primary key is (subnet, address), and every MAC is unique per network.
A collision with a concurrent writer (possible on PostgreSQL) rolls back a
savepoint and tries the next candidate.
"""

from __future__ import annotations

import ipaddress
import secrets

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kumo.errors import BadRequest, Conflict
from kumo.network.models import IPAllocation, Port, Subnet

MAC_PREFIX = (0xFA, 0x16, 0x3E)
SLAAC_MODES = ("slaac", "dhcpv6-stateless")


def random_mac() -> str:
    return ":".join(f"{b:02x}" for b in (*MAC_PREFIX, *secrets.token_bytes(3)))


def unique_mac(db: Session, network_id: str) -> str:
    for _ in range(16):
        mac = random_mac()
        if db.scalar(sa.select(Port.id).where(Port.network_id == network_id, Port.mac_address == mac)) is None:
            return mac
    raise Conflict("Unable to generate a unique mac on network.", kind="MacAddressGenerationFailure")


def eui64(cidr: str, mac: str) -> str:
    """The SLAAC address of ``mac`` in an IPv6 /64."""
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    interface = octets[:3] + [0xFF, 0xFE] + octets[3:]
    network = ipaddress.ip_network(cidr)
    return str(network.network_address + int.from_bytes(bytes(interface), "big"))


def is_slaac(subnet: Subnet) -> bool:
    return subnet.ip_version == 6 and subnet.ipv6_address_mode in SLAAC_MODES


def default_pools(cidr: str, gateway: str | None) -> list[dict]:
    net = ipaddress.ip_network(cidr)
    if net.version == 4:
        first, last = net.network_address + 1, net.broadcast_address - 1
        if net.prefixlen >= 31:
            first, last = net.network_address, net.broadcast_address
    else:
        first, last = net.network_address + 1, net.broadcast_address
    if first > last:
        return []
    pools = []
    gw = ipaddress.ip_address(gateway) if gateway else None
    if gw is not None and first <= gw <= last:
        if gw > first:
            pools.append({"start": str(first), "end": str(gw - 1)})
        if gw < last:
            pools.append({"start": str(gw + 1), "end": str(last)})
    else:
        pools.append({"start": str(first), "end": str(last)})
    return pools


def in_pools(subnet: Subnet, address) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ipaddress.ip_address(p["start"]) <= ip <= ipaddress.ip_address(p["end"])
               for p in subnet.allocation_pools)


# subnet id → the address last handed out automatically there: the next search starts after it, so that a
# subnet with many ports costs a couple of small queries per allocation, not a read of every address. Only
# a hint (per process, lost at restart): the (subnet, address) key still decides; past the pools' end the
# search wraps around to addresses freed meanwhile.
_cursor: dict[str, int] = {}
BATCH = 64  # candidates checked per query
FIRST_BATCH = 4  # ... in the first query after the hint


def _candidates(subnet: Subnet, after: int | None):
    """Every pool address but the gateway, starting after ``after`` and wrapping around."""
    ranges = [(int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"])))
              for p in subnet.allocation_pools]
    gateway = int(ipaddress.ip_address(subnet.gateway_ip)) if subnet.gateway_ip else None
    pieces = [(max(lo, after + 1), hi) for lo, hi in ranges if after is not None and hi > after] + \
        [(lo, hi if after is None else min(hi, after)) for lo, hi in ranges if after is None or lo <= after]
    address = ipaddress.IPv6Address if subnet.ip_version == 6 else ipaddress.IPv4Address
    for lo, hi in pieces:
        for value in range(lo, hi + 1):
            if value != gateway:
                yield str(address(value))


def _batches(items, size: int, first: int | None = None):
    """``items`` in lists of ``size``; the first list of ``first`` (after the hint the next address is
    nearly always free: a short first check is cheaper to state than a long one)."""
    batch, want = [], first or size
    for item in items:
        batch.append(item)
        if len(batch) == want:
            yield batch
            batch, want = [], size
    if batch:
        yield batch


def check_address(subnet: Subnet, address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise BadRequest(f"Invalid input for operation: '{address}' is not a valid IP address.") from None
    net = ipaddress.ip_network(subnet.cidr)
    invalid = ip not in net or (net.version == 4 and net.prefixlen < 31
                                and ip in (net.network_address, net.broadcast_address))
    if invalid:
        raise BadRequest(f"IP address {address} is not a valid IP for the specified subnet.",
                         kind="InvalidIpForSubnet")
    return str(ip)


def allocate(db: Session, subnet: Subnet, port: Port, address: str | None = None) -> str:
    """Give ``port`` an address on ``subnet``: the one asked for, its EUI-64 on SLAAC, or the first free one."""
    if address is None and is_slaac(subnet):
        address = eui64(subnet.cidr, port.mac_address)
    if address is not None:
        address = check_address(subnet, address)
        if db.get(IPAllocation, (subnet.id, address)) is not None:
            raise Conflict(f"IP address {address} already allocated in subnet {subnet.id}",
                           kind="IpAddressAlreadyAllocated")
        if not _insert(db, subnet, port, address):
            raise Conflict(f"IP address {address} already allocated in subnet {subnet.id}",
                           kind="IpAddressAlreadyAllocated")
        return address
    hint = _cursor.get(subnet.id)
    for batch in _batches(_candidates(subnet, hint), BATCH, FIRST_BATCH if hint is not None else None):
        taken = set(db.scalars(sa.select(IPAllocation.ip_address).where(IPAllocation.subnet_id == subnet.id,
                                                                         IPAllocation.ip_address.in_(batch))))
        for candidate in batch:
            if candidate not in taken and _insert(db, subnet, port, candidate):
                if len(_cursor) > 100_000:
                    _cursor.clear()
                _cursor[subnet.id] = int(ipaddress.ip_address(candidate))
                return candidate
    raise Conflict(f"No more IP addresses available on network {subnet.network_id}.",
                   kind="IpAddressGenerationFailure")


def _insert(db: Session, subnet: Subnet, port: Port, address: str) -> bool:
    row = IPAllocation(subnet_id=subnet.id, ip_address=address, port_id=port.id, network_id=subnet.network_id)
    if not concurrent_writers(db):  # no one else can take it meanwhile: no savepoint needed
        db.add(row)
        db.flush()
        return True
    try:
        with db.begin_nested():
            db.add(row)
        return True
    except IntegrityError:
        return False


def concurrent_writers(db: Session) -> bool:
    """False on SQLite, where a write transaction holds the database's write lock from its start (``BEGIN
    IMMEDIATE``): what it has checked is free stays free until it commits."""
    return db.get_bind().dialect.name != "sqlite"


def release(db: Session, port_id: str, subnet_id: str | None = None) -> None:
    query = sa.delete(IPAllocation).where(IPAllocation.port_id == port_id)
    if subnet_id:
        query = query.where(IPAllocation.subnet_id == subnet_id)
    db.execute(query)


def fixed_ips(db: Session, port_id: str) -> list[dict]:
    rows = db.execute(sa.select(IPAllocation.subnet_id, IPAllocation.ip_address)
                      .where(IPAllocation.port_id == port_id)).all()
    return [{"subnet_id": s, "ip_address": ip} for s, ip in rows]


def fixed_ips_by_port(db: Session, port_ids: list[str]) -> dict[str, list[dict]]:
    result: dict[str, list[dict]] = {pid: [] for pid in port_ids}
    if not port_ids:
        return result
    rows = db.connection().execute(sa.select(IPAllocation.port_id, IPAllocation.subnet_id, IPAllocation.ip_address)
                                   .where(IPAllocation.port_id.in_(port_ids))).all()
    for port_id, subnet_id, ip in rows:
        result[port_id].append({"subnet_id": subnet_id, "ip_address": ip})
    return result
