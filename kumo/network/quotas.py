"""Neutron's quotas over the shared quota store (``kumo.quotas``): limits per project, usage counted.

Usage is the number of the project's rows, counted when a resource is created (as Neutron counts
without reservations). A limited resource is checked under the project's quota row lock, so two
concurrent creates cannot both take the last unit; an unlimited one (the default) costs nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo import quotas
from kumo.errors import BadRequest, Conflict
from kumo.network.models import FloatingIP, Network, Port, Router, SecurityGroup, SecurityGroupRule, Subnet, SubnetPool

# Neutron's quota names and the tables whose rows count against them. Kumo's defaults are unlimited:
# an operator (or an admin through the API) sets limits per project.
COUNTED = {"network": Network, "subnet": Subnet, "port": Port, "router": Router, "floatingip": FloatingIP,
           "security_group": SecurityGroup, "security_group_rule": SecurityGroupRule, "subnetpool": SubnetPool}
DEFAULTS = {name: quotas.UNLIMITED for name in COUNTED}


def _key(name: str) -> str:
    return f"network.{name}"


STORE_DEFAULTS = {_key(name): value for name, value in DEFAULTS.items()}


def limits(db: Session, project_id: str) -> dict[str, int]:
    return {name: quotas.limit(db, project_id, _key(name), STORE_DEFAULTS) for name in COUNTED}


def defaults(db: Session) -> dict[str, int]:
    return limits(db, "")


def used(db: Session, project_id: str, name: str) -> int:
    model = COUNTED[name]
    return db.scalar(sa.select(sa.func.count()).select_from(model).where(model.project_id == project_id)) or 0


def details(db: Session, project_id: str) -> dict[str, dict[str, int]]:
    return {name: {"limit": limit, "used": used(db, project_id, name), "reserved": 0}
            for name, limit in limits(db, project_id).items()}


def projects_with_limits(db: Session) -> list[str]:
    keys = [_key(name) for name in COUNTED]
    return sorted(set(db.scalars(sa.select(quotas.QuotaLimit.project_id).where(
        quotas.QuotaLimit.resource.in_(keys), quotas.QuotaLimit.project_id != ""))))


def check(db: Session, project_id: str, name: str, adding: int = 1) -> None:
    """Raise Neutron's 409 ``OverQuota`` when ``adding`` more ``name`` would pass the project's limit."""
    limit = quotas.limit(db, project_id, _key(name), STORE_DEFAULTS)
    if limit == quotas.UNLIMITED:
        return
    quotas.reserve(db, project_id, {_key(name): 0}, STORE_DEFAULTS)  # takes the project's row lock
    if used(db, project_id, name) + adding > limit:
        raise Conflict(f"Quota exceeded for resources: ['{name}'].", kind="OverQuota")


def update(db: Session, project_id: str, values: dict, check_limit: bool = False) -> None:
    for name, value in values.items():
        if name not in COUNTED:
            raise BadRequest(f"Unrecognized attribute(s) '{name}'", kind="HTTPBadRequest")
        if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).lstrip("-").isdigit():
            raise BadRequest(f"Invalid input for {name}. Reason: '{value}' is not an integer.", kind="InvalidInput")
        value = int(value)
        if value < quotas.UNLIMITED:
            raise BadRequest(f"Invalid input for {name}. Reason: '{value}' should be greater than or equal to -1.",
                             kind="InvalidInput")
        if check_limit and value != quotas.UNLIMITED and value < used(db, project_id, name):
            raise BadRequest(f"Invalid input for operation: Quota limit {value} for {name} must be greater than"
                             f" or equal to its usage {used(db, project_id, name)}.", kind="InvalidQuotaValue")
        quotas.set_limit(db, project_id, _key(name), value)


def reset(db: Session, project_id: str) -> None:
    quotas.reset_limits(db, project_id, [_key(name) for name in COUNTED])
