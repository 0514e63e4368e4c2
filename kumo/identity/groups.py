"""Groups and their members."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.db import filters
from kumo.errors import BadRequest, Conflict, NotFound
from kumo.identity import revocations
from kumo.identity.core import get_or_404
from kumo.identity.models import Assignment, Domain, Group, Membership, User

FILTERS = {"name": Group.name, "domain_id": Group.domain_id}


def get(db: Session, group_id: str) -> Group:
    return get_or_404(db, Group, group_id, "group")


def _duplicate(name: str, domain_id: str) -> Conflict:
    return Conflict(f"Conflict occurred attempting to store group - Duplicate entry found with name {name}"
                    f" at domain ID {domain_id}.")


def _name_taken(db: Session, name: str, domain_id: str) -> bool:
    return db.scalars(sa.select(Group.id).where(Group.name == name, Group.domain_id == domain_id)).first() \
        is not None


def create(db: Session, *, name: str, domain_id: str, description: str = "", extra=None) -> Group:
    get_or_404(db, Domain, domain_id, "domain")
    if _name_taken(db, name, domain_id):
        raise _duplicate(name, domain_id)
    group = Group(name=name, domain_id=domain_id, description=description or "", extra=extra or {})
    db.add(group)
    db.flush()
    return group


def list_(db: Session, query_filters: dict, user_id: str | None = None) -> list[Group]:
    """Groups matching ``query_filters``; with ``user_id``, only the groups that user belongs to."""
    query = filters.apply(sa.select(Group), FILTERS, query_filters)
    if user_id:
        query = query.join(Membership, Membership.group_id == Group.id).where(Membership.user_id == user_id)
    return list(db.scalars(query.order_by(Group.name, Group.id)))


def update(db: Session, group_id: str, changes: dict, extra: dict | None = None) -> Group:
    group = get(db, group_id)
    if "domain_id" in changes and changes["domain_id"] != group.domain_id:
        raise BadRequest("Cannot change the domain of a group.")
    name = changes.get("name")
    if name and name != group.name and _name_taken(db, name, group.domain_id):
        raise _duplicate(name, group.domain_id)
    if name:
        group.name = name
    if "description" in changes:
        group.description = changes["description"] or ""
    if extra:
        group.extra = {**(group.extra or {}), **extra}
    db.flush()
    return group


def delete(db: Session, group_id: str) -> None:
    """Delete a group, its role assignments and memberships; its members' tokens lose those roles."""
    group = get(db, group_id)
    members = member_ids(db, group.id)
    db.execute(sa.delete(Assignment).where(Assignment.actor_type == "group", Assignment.actor_id == group.id))
    db.execute(sa.delete(Membership).where(Membership.group_id == group.id))
    for user_id in members:
        revocations.revoke(db, user_id=user_id)
    db.delete(group)
    db.flush()


def member_ids(db: Session, group_id: str) -> list[str]:
    return list(db.scalars(sa.select(Membership.user_id).where(Membership.group_id == group_id)))


def add_user(db: Session, group_id: str, user_id: str) -> None:
    group = get(db, group_id)
    user = get_or_404(db, User, user_id, "user")
    if db.get(Membership, (user.id, group.id)) is None:
        db.add(Membership(user_id=user.id, group_id=group.id))
        db.flush()


def check_user(db: Session, group_id: str, user_id: str) -> None:
    """NotFound unless the user is a member of the group (or when either is unknown)."""
    group = get(db, group_id)
    user = get_or_404(db, User, user_id, "user")
    if db.get(Membership, (user.id, group.id)) is None:
        raise NotFound(f"User '{user.id}' not found in group '{group.id}'.")


def remove_user(db: Session, group_id: str, user_id: str) -> None:
    """End a membership; the user's tokens are revoked, as the roles it gave are gone."""
    check_user(db, group_id, user_id)
    db.execute(sa.delete(Membership).where(Membership.group_id == group_id, Membership.user_id == user_id))
    revocations.revoke(db, user_id=user_id)
    db.flush()
