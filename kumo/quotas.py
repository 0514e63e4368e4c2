"""Quotas shared by every service: limits per project and resource, usage counted in the same transaction.

``reserve`` locks the project's usage row (``SELECT … FOR UPDATE``; on SQLite the
write transaction already holds the database lock), checks the limit and adds
the amount, all inside the transaction that creates the resource, so concurrent
creates can never exceed a quota together. ``release`` gives back on delete.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from kumo.db import after_commit, model_base
from kumo.errors import KumoError

Base = model_base("QuotaModel")

UNLIMITED = -1


class QuotaLimit(Base):
    __tablename__ = "quota_limits"
    project_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # "" holds the defaults
    resource: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # e.g. compute.instances
    hard_limit: Mapped[int]


class QuotaUsage(Base):
    __tablename__ = "quota_usages"
    project_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    in_use: Mapped[int] = mapped_column(default=0)


class OverQuota(KumoError):
    status = 403  # Nova and Cinder say 403 (Neutron overrides to 409 with kind OverQuota)
    title = "Forbidden"
    kind = "OverQuota"

    def __init__(self, resource: str, requested: int, in_use: int, limit: int):
        self.resource, self.requested, self.in_use, self.limit = resource, requested, in_use, limit
        super().__init__(f"Quota exceeded for resources: ['{resource.split('.', 1)[-1]}']"
                         f" (requested {requested}, in use {in_use}, limit {limit}).")


# (database, project, resource) → its limit, so that a create does not read it each time. Only ``set_limit`` and
# ``reset_limits`` change limits: each empties the cache, again once it commits, and bumps the generation so that
# a read begun before that commit is not stored after it. Per process, as Kumo serves from one.
_cache: dict[tuple[str, str, str], int] = {}
_generation = [0]


def _forget(db: Session) -> None:
    def forget():
        _generation[0] += 1
        _cache.clear()
    forget()
    after_commit(db, forget)


def limit(db: Session, project_id: str, resource: str, defaults: dict[str, int]) -> int:
    key = (str(db.get_bind().url), project_id, resource)
    value = _cache.get(key)
    if value is not None:
        return value
    generation = _generation[0]
    row = db.get(QuotaLimit, (project_id, resource)) or db.get(QuotaLimit, ("", resource))
    value = row.hard_limit if row else defaults.get(resource, UNLIMITED)
    if generation == _generation[0] and len(_cache) < 100_000:
        _cache[key] = value
    return value


def _limits(db: Session, project_id: str, resources: list[str], defaults: dict[str, int]) -> dict[str, int]:
    """``limit`` of several resources in one query: the project's own, else the default row, else ``defaults``."""
    found = {}
    for row in db.scalars(sa.select(QuotaLimit).where(QuotaLimit.project_id.in_((project_id, "")),
                                                      QuotaLimit.resource.in_(resources))):
        if row.project_id == project_id or row.resource not in found:
            found[row.resource] = row.hard_limit
    return {resource: found.get(resource, defaults.get(resource, UNLIMITED)) for resource in resources}


def usage(db: Session, project_id: str, resource: str) -> int:
    row = db.get(QuotaUsage, (project_id, resource))
    return row.in_use if row else 0


def set_limit(db: Session, project_id: str, resource: str, hard_limit: int) -> None:
    row = db.get(QuotaLimit, (project_id, resource))
    if row is None:
        db.add(QuotaLimit(project_id=project_id, resource=resource, hard_limit=hard_limit))
    else:
        row.hard_limit = hard_limit
    db.flush()
    _forget(db)


def reset_limits(db: Session, project_id: str, resources=None) -> None:
    query = sa.delete(QuotaLimit).where(QuotaLimit.project_id == project_id)
    if resources:
        query = query.where(QuotaLimit.resource.in_(list(resources)))
    db.execute(query)
    _forget(db)


def reserve(db: Session, project_id: str, amounts: dict[str, int], defaults: dict[str, int]) -> None:
    """Add ``amounts`` to the project's usage, or raise OverQuota leaving usage untouched."""
    resources = sorted(amounts)  # a fixed order, so two writers never lock in opposite orders
    rows = {row.resource: row for row in db.scalars(
        sa.select(QuotaUsage).where(QuotaUsage.project_id == project_id, QuotaUsage.resource.in_(resources))
        .order_by(QuotaUsage.resource).with_for_update())}
    for resource in resources:
        if resource not in rows:
            rows[resource] = QuotaUsage(project_id=project_id, resource=resource, in_use=0)
            db.add(rows[resource])
            db.flush()
    taking = [resource for resource in resources if amounts[resource] > 0]
    hard_limits = _limits(db, project_id, taking, defaults) if taking else {}
    for resource in taking:
        hard, amount = hard_limits[resource], amounts[resource]
        if hard != UNLIMITED and rows[resource].in_use + amount > hard:
            raise OverQuota(resource, amount, rows[resource].in_use, hard)
    for resource, amount in amounts.items():
        rows[resource].in_use = max(rows[resource].in_use + amount, 0)
    db.flush()


def release(db: Session, project_id: str, amounts: dict[str, int]) -> None:
    reserve(db, project_id, {k: -v for k, v in amounts.items()}, {})
