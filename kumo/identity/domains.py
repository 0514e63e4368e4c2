"""Domains."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.db import filters
from kumo.errors import Conflict, Forbidden
from kumo.identity import revocations
from kumo.identity.core import get_or_404
from kumo.identity.models import Assignment, Domain, Group, Project, Role, User

FILTERS = {"name": Domain.name, "enabled": Domain.enabled}


def create(db: Session, *, name: str, description: str = "", enabled: bool = True, tags=(), options=None,
           id: str | None = None, extra=None) -> Domain:
    if db.scalars(sa.select(Domain.id).where(Domain.name == name)).first():
        raise Conflict(f"Conflict occurred attempting to store domain - Duplicate entry found with name {name}.")
    domain = Domain(name=name, description=description or "", enabled=enabled, tags=list(tags),
                    options=options or {}, extra=extra or {})
    if id:
        domain.id = id
    db.add(domain)
    db.flush()
    return domain


def get(db: Session, domain_id: str) -> Domain:
    return get_or_404(db, Domain, domain_id, "domain")


def list_(db: Session, query_filters: dict) -> list[Domain]:
    return list(db.scalars(filters.apply(sa.select(Domain), FILTERS, query_filters).order_by(Domain.name)))


def update(db: Session, domain_id: str, changes: dict) -> Domain:
    domain = get(db, domain_id)
    if "name" in changes and changes["name"] != domain.name:
        if db.scalars(sa.select(Domain.id).where(Domain.name == changes["name"])).first():
            raise Conflict(f"Conflict occurred attempting to store domain - Duplicate entry found with name"
                           f" {changes['name']}.")
    was_enabled = domain.enabled
    for key in ("name", "description", "enabled", "tags", "options"):
        if key in changes:
            setattr(domain, key, changes[key] if changes[key] is not None else "")
    if was_enabled and not domain.enabled:
        revocations.revoke(db, domain_id=domain.id)
        for project_id in db.scalars(sa.select(Project.id).where(Project.domain_id == domain.id)):
            revocations.revoke(db, project_id=project_id)
        for user_id in db.scalars(sa.select(User.id).where(User.domain_id == domain.id)):
            revocations.revoke(db, user_id=user_id)
    db.flush()
    return domain


def delete(db: Session, domain_id: str) -> None:
    from kumo.identity import projects, users

    domain = get(db, domain_id)
    if domain.enabled:
        raise Forbidden("Cannot delete a domain that is enabled, please disable it first.")
    for project in db.scalars(sa.select(Project).where(Project.domain_id == domain.id)
                              .order_by(Project.parent_id.is_(None))):
        projects.delete(db, project.id, cascade=True)
    for user_id in list(db.scalars(sa.select(User.id).where(User.domain_id == domain.id))):
        users.delete(db, user_id)
    db.execute(sa.delete(Group).where(Group.domain_id == domain.id))
    db.execute(sa.delete(Role).where(Role.domain_id == domain.id))
    db.execute(sa.delete(Assignment).where(Assignment.target_type == "domain", Assignment.target_id == domain.id))
    db.delete(domain)
    db.flush()
