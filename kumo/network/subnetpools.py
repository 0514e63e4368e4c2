"""Subnet pools: prefixes from which subnets take their CIDRs."""

from __future__ import annotations

import ipaddress

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.errors import BadRequest, Conflict, NotFound
from kumo.network.models import Subnet, SubnetPool


def not_found(pool_id: str) -> NotFound:
    return NotFound(f"Subnet pool {pool_id} could not be found.", kind="SubnetPoolNotFound")


def get(db: Session, ctx: Context, pool_id: str) -> SubnetPool:
    pool = db.get(SubnetPool, pool_id)
    if pool is None or not (ctx.is_admin or pool.shared or pool.project_id == ctx.project_id):
        raise not_found(pool_id)
    return pool


def _prefixes(prefixes) -> tuple[list[str], int]:
    if not isinstance(prefixes, list) or not prefixes:
        raise BadRequest("Invalid input for prefixes: a non-empty list of CIDRs is required.", kind="InvalidInput")
    try:
        nets = [ipaddress.ip_network(p) for p in prefixes]
    except (TypeError, ValueError):
        raise BadRequest(f"Invalid input for prefixes: {prefixes}.", kind="InvalidInput") from None
    versions = {n.version for n in nets}
    if len(versions) != 1:
        raise BadRequest("Illegal subnetpool: prefixes of mixed IP versions.", kind="PrefixVersionMismatch")
    return [str(n) for n in ipaddress.collapse_addresses(nets)], versions.pop()


def create(db: Session, *, project_id: str, name: str, prefixes, default_prefixlen=None, min_prefixlen=None,
           max_prefixlen=None, shared=False, is_default=False, description="", default_quota=None) -> SubnetPool:
    prefixes, version = _prefixes(prefixes)
    width = 32 if version == 4 else 128
    min_len = int(min_prefixlen) if min_prefixlen is not None else min(ipaddress.ip_network(p).prefixlen
                                                                         for p in prefixes)
    max_len = int(max_prefixlen) if max_prefixlen is not None else width
    default_len = int(default_prefixlen) if default_prefixlen is not None else min_len
    if not 0 <= min_len <= default_len <= max_len <= width:
        raise BadRequest("Illegal prefix bounds: min_prefixlen <= default_prefixlen <= max_prefixlen required.",
                         kind="IllegalSubnetPoolPrefixBounds")
    if is_default and db.scalar(sa.select(SubnetPool.id).where(SubnetPool.is_default.is_(True),
                                                               SubnetPool.ip_version == version)):
        raise Conflict("A default subnetpool for this IP family already exists.",
                       kind="DefaultSubnetPoolExists")
    pool = SubnetPool(project_id=project_id, name=name, ip_version=version, prefixes=prefixes,
                      default_prefixlen=default_len, min_prefixlen=min_len, max_prefixlen=max_len,
                      shared=shared, is_default=is_default, description=description, default_quota=default_quota)
    db.add(pool)
    db.flush()
    return pool


def update(db: Session, pool: SubnetPool, changes: dict) -> SubnetPool:
    if "prefixes" in changes:
        prefixes, version = _prefixes(changes["prefixes"])
        if version != pool.ip_version:
            raise BadRequest("Cannot change the IP version of a subnet pool.", kind="PrefixVersionMismatch")
        old = [ipaddress.ip_network(p) for p in pool.prefixes]
        new = [ipaddress.ip_network(p) for p in prefixes]
        if not all(any(o.subnet_of(n) for n in new) for o in old):
            raise BadRequest("Existing prefixes must be a subset of the new prefixes.", kind="IllegalPrefixUpdate")
        pool.prefixes = prefixes
    for key in ("name", "description", "default_prefixlen", "min_prefixlen", "max_prefixlen", "is_default",
                "default_quota"):
        if key in changes:
            setattr(pool, key, changes[key])
    db.flush()
    return pool


def delete(db: Session, pool: SubnetPool) -> None:
    if db.scalar(sa.select(Subnet.id).where(Subnet.subnetpool_id == pool.id)):
        raise Conflict(f"Subnet pool {pool.id} cannot be deleted: subnets use it.", kind="SubnetPoolInUse")
    db.delete(pool)
    db.flush()
