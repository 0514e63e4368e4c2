"""Roles and implied roles."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.db import filters
from kumo.errors import Conflict, Forbidden, NotFound
from kumo.identity.core import get_or_404
from kumo.identity.models import Assignment, Domain, ImpliedRole, Role

FILTERS = {"name": Role.name}
PROHIBITED_IMPLIED = ("admin",)  # Keystone's [assignment] prohibited_implied_role


def get(db: Session, role_id: str) -> Role:
    return get_or_404(db, Role, role_id, "role")


def find(db: Session, name: str, domain_id: str = "") -> Role | None:
    return db.scalars(sa.select(Role).where(Role.name == name, Role.domain_id == (domain_id or ""))).first()


def create(db: Session, *, name: str, domain_id: str | None = None, description: str = "", options=None,
           id: str | None = None) -> Role:
    if domain_id:
        get_or_404(db, Domain, domain_id, "domain")
    if find(db, name, domain_id or ""):
        raise Conflict(f"Conflict occurred attempting to store role - Duplicate entry found with name {name}.")
    role = Role(name=name, domain_id=domain_id or "", description=description or "", options=options or {})
    if id:
        role.id = id
    db.add(role)
    db.flush()
    return role


def list_(db: Session, query_filters: dict, domain_id: str | None = None) -> list[Role]:
    query = filters.apply(sa.select(Role), FILTERS, query_filters).where(Role.domain_id == (domain_id or ""))
    return list(db.scalars(query.order_by(Role.name)))


def update(db: Session, role_id: str, changes: dict) -> Role:
    role = get(db, role_id)
    if role.options.get("immutable") and not ("options" in changes and changes["options"].get("immutable")
                                              is False and len(changes) == 1):
        raise Forbidden(f"Role {role.id} is immutable.")
    if changes.get("name") and changes["name"] != role.name and find(db, changes["name"], role.domain_id):
        raise Conflict(f"Conflict occurred attempting to store role - Duplicate entry found with name"
                       f" {changes['name']}.")
    for key in ("name", "description"):
        if key in changes:
            setattr(role, key, changes[key] or "")
    if "options" in changes:
        role.options = {k: v for k, v in {**role.options, **(changes["options"] or {})}.items() if v is not None}
    db.flush()
    return role


def delete(db: Session, role_id: str) -> None:
    role = get(db, role_id)
    if role.options.get("immutable"):
        raise Forbidden(f"Role {role.id} is immutable.")
    db.execute(sa.delete(Assignment).where(Assignment.role_id == role.id))
    db.execute(sa.delete(ImpliedRole).where(sa.or_(ImpliedRole.prior_role_id == role.id,
                                                   ImpliedRole.implied_role_id == role.id)))
    db.delete(role)
    db.flush()


def imply(db: Session, prior_id: str, implied_id: str) -> tuple[Role, Role]:
    prior, implied = get(db, prior_id), get(db, implied_id)
    if implied.name in PROHIBITED_IMPLIED:  # every holder of the prior role would be an admin
        raise Forbidden(f"{implied.id} cannot be an implied roles.")
    if implied.domain_id and not prior.domain_id:
        raise Forbidden(f"{implied.id} is a domain specific role: a global role cannot imply it.")
    if prior.id == implied.id or _reaches(db, implied.id, prior.id):
        raise Conflict("Implied roles may not form a cycle.")
    if db.get(ImpliedRole, (prior.id, implied.id)) is None:
        db.add(ImpliedRole(prior_role_id=prior.id, implied_role_id=implied.id))
        db.flush()
    return prior, implied


def get_implied(db: Session, prior_id: str, implied_id: str) -> tuple[Role, Role]:
    prior, implied = get(db, prior_id), get(db, implied_id)
    if db.get(ImpliedRole, (prior.id, implied.id)) is None:
        raise NotFound(f"{prior_id} does not imply {implied_id}.")
    return prior, implied


def unimply(db: Session, prior_id: str, implied_id: str) -> None:
    get_implied(db, prior_id, implied_id)
    db.execute(sa.delete(ImpliedRole).where(ImpliedRole.prior_role_id == prior_id,
                                            ImpliedRole.implied_role_id == implied_id))


def implied_by(db: Session, prior_id: str) -> list[Role]:
    ids = db.scalars(sa.select(ImpliedRole.implied_role_id).where(ImpliedRole.prior_role_id == prior_id))
    return list(db.scalars(sa.select(Role).where(Role.id.in_(list(ids))).order_by(Role.name)))


def all_inferences(db: Session) -> dict[str, list[Role]]:
    pairs = db.execute(sa.select(ImpliedRole.prior_role_id, ImpliedRole.implied_role_id)).all()
    result: dict[str, list[Role]] = {}
    for prior_id, implied_id in pairs:
        result.setdefault(prior_id, []).append(db.get(Role, implied_id))
    return result


def _reaches(db: Session, start: str, goal: str) -> bool:
    seen, frontier = set(), {start}
    while frontier:
        if goal in frontier:
            return True
        seen |= frontier
        frontier = set(db.scalars(sa.select(ImpliedRole.implied_role_id)
                                  .where(ImpliedRole.prior_role_id.in_(frontier)))) - seen
    return False
