"""Nova's quotas over the shared quota store (``kumo.quotas``): defaults, show, update, enforce."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo import quotas
from kumo.compute.models import KeyPair, Server
from kumo.errors import BadRequest, Forbidden

# Nova's defaults; -1 is unlimited.
DEFAULTS = {"instances": 10, "cores": 20, "ram": 51200, "metadata_items": 128, "key_pairs": 100,
            "server_groups": 10, "server_group_members": 10, "injected_files": 5,
            "injected_file_content_bytes": 10240, "injected_file_path_bytes": 255}
# Shown up to microversion 2.35 (the nova-network era proxies); Neutron owns them now.
NETWORK_DEFAULTS = {"floating_ips": -1, "fixed_ips": -1, "security_groups": -1, "security_group_rules": -1}
COUNTED = ("instances", "cores", "ram", "server_groups")  # usage tracked in kumo.quotas


def _key(name: str) -> str:
    return f"compute.{name}"


STORE_DEFAULTS = {_key(k): v for k, v in {**DEFAULTS, **NETWORK_DEFAULTS}.items()}


def limits(db: Session, project_id: str, *, defaults_only: bool = False) -> dict[str, int]:
    pid = "" if defaults_only else project_id
    return {name: quotas.limit(db, pid, _key(name), STORE_DEFAULTS) for name in {**DEFAULTS, **NETWORK_DEFAULTS}}


def in_use(db: Session, project_id: str, user_id: str | None = None) -> dict[str, int]:
    used = {name: quotas.usage(db, project_id, _key(name)) for name in COUNTED}
    if user_id:
        used["key_pairs"] = db.scalar(sa.select(sa.func.count()).select_from(KeyPair)
                                      .where(KeyPair.user_id == user_id)) or 0
    return used


def update(db: Session, project_id: str, values: dict[str, int], force: bool = False) -> None:
    for name, value in values.items():
        if name not in DEFAULTS and name not in NETWORK_DEFAULTS:
            continue
        if value < -1:
            raise BadRequest(f"Quota limit {value} for {name} must be -1 or greater.")
        if not force and name in COUNTED and value != -1:
            used = quotas.usage(db, project_id, _key(name))
            if value < used:
                raise BadRequest(f"Quota limit {value} for {name} must be greater than or equal to "
                                 f"already used and reserved {used}.")
        quotas.set_limit(db, project_id, _key(name), value)


def reset(db: Session, project_id: str) -> None:
    quotas.reset_limits(db, project_id, [_key(k) for k in {**DEFAULTS, **NETWORK_DEFAULTS}])


def reserve(db: Session, project_id: str, instances: int, cores: int, ram: int) -> None:
    """Take instances/cores/ram for new servers (or a resize), in the creating transaction."""
    amounts = {_key("instances"): instances, _key("cores"): cores, _key("ram"): ram}
    try:
        quotas.reserve(db, project_id, {k: v for k, v in amounts.items() if v}, STORE_DEFAULTS)
    except quotas.OverQuota as exc:
        name = exc.resource.split(".", 1)[1]
        raise Forbidden(f"Quota exceeded for {name}: Requested {exc.requested}, but already used "
                        f"{exc.in_use} of {exc.limit} {name}") from None


def headroom(db: Session, project_id: str, vcpus: int, ram: int) -> int:
    """How many more servers of this size the project's instances/cores/ram quotas allow."""
    fits = []
    for name, each in (("instances", 1), ("cores", vcpus), ("ram", ram)):
        hard = quotas.limit(db, project_id, _key(name), STORE_DEFAULTS)
        if hard != quotas.UNLIMITED and each > 0:
            fits.append(max(hard - quotas.usage(db, project_id, _key(name)), 0) // each)
    return min(fits) if fits else 1 << 30


def release(db: Session, project_id: str, instances: int, cores: int, ram: int) -> None:
    amounts = {_key("instances"): instances, _key("cores"): cores, _key("ram"): ram}
    quotas.release(db, project_id, {k: v for k, v in amounts.items() if v})


def check_metadata(db: Session, project_id: str, metadata: dict) -> None:
    allowed = quotas.limit(db, project_id, _key("metadata_items"), STORE_DEFAULTS)
    if allowed != -1 and len(metadata) > allowed:
        raise Forbidden("Quota exceeded for metadata_items: Requested "
                        f"{len(metadata)}, but already used 0 of {allowed} metadata_items")


def check_key_pairs(db: Session, project_id: str, user_id: str) -> None:
    allowed = quotas.limit(db, project_id, _key("key_pairs"), STORE_DEFAULTS)
    count = db.scalar(sa.select(sa.func.count()).select_from(KeyPair).where(KeyPair.user_id == user_id)) or 0
    if allowed != -1 and count + 1 > allowed:
        raise Forbidden("Quota exceeded, too many key pairs.")


def servers_in_project(db: Session, project_id: str) -> int:
    return db.scalar(sa.select(sa.func.count()).select_from(Server).where(Server.project_id == project_id)) or 0
