"""Users and their passwords (history, minimum age, expiry, complexity)."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.db import filters, utcnow
from kumo.errors import BadRequest, Conflict
from kumo.identity import authn, revocations
from kumo.identity.authn import current_password
from kumo.identity.core import Identity, get_or_404
from kumo.identity.models import (ApplicationCredential, Assignment, Domain, Membership, Password, Project,
                                  User)

FILTERS = {"name": User.name, "domain_id": User.domain_id, "enabled": User.enabled}


def get(db: Session, user_id: str) -> User:
    return get_or_404(db, User, user_id, "user")


def list_(db: Session, query_filters: dict, group_id: str | None = None) -> list[User]:
    query = filters.apply(sa.select(User), FILTERS, query_filters)
    if group_id:
        query = query.join(Membership, Membership.user_id == User.id).where(Membership.group_id == group_id)
    return list(db.scalars(query.order_by(User.name)))


def create(identity: Identity, db: Session, *, name: str, domain_id: str, password: str | None = None,
           enabled: bool = True, default_project_id: str | None = None, description: str = "",
           options=None, extra=None, check_rules: bool = True) -> User:
    """``check_rules=False`` skips the complexity rule (bootstrap's generated passwords cannot foresee it)."""
    get_or_404(db, Domain, domain_id, "domain")
    if default_project_id:
        get_or_404(db, Project, default_project_id, "project")
    if db.scalars(sa.select(User.id).where(User.name == name, User.domain_id == domain_id)).first():
        raise Conflict(f"Conflict occurred attempting to store user - Duplicate entry found with name {name}"
                       f" at domain ID {domain_id}.")
    user = User(name=name, domain_id=domain_id, enabled=enabled, default_project_id=default_project_id,
                description=description or "", options=options or {}, extra=extra or {})
    db.add(user)
    db.flush()
    if password is not None:
        _set_password(identity, db, user, password, self_service=False, check_rules=check_rules)
    return user


def update(identity: Identity, db: Session, user_id: str, changes: dict) -> User:
    user = get(db, user_id)
    if "domain_id" in changes and changes["domain_id"] != user.domain_id:
        raise BadRequest("Cannot change the domain of a user.")
    name = changes.get("name")
    if name and name != user.name and db.scalars(sa.select(User.id).where(
            User.name == name, User.domain_id == user.domain_id)).first():
        raise Conflict(f"Conflict occurred attempting to store user - Duplicate entry found with name {name}"
                       f" at domain ID {user.domain_id}.")
    if changes.get("default_project_id"):
        get_or_404(db, Project, changes["default_project_id"], "project")
    was_enabled = user.enabled
    for key in ("name", "enabled", "default_project_id", "description"):
        if key in changes:
            setattr(user, key, changes[key] if changes[key] is not None or key == "default_project_id" else "")
    if "options" in changes:
        merged = dict(user.options)
        for key, value in (changes["options"] or {}).items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        user.options = merged
    if "password" in changes:
        _set_password(identity, db, user, changes["password"], self_service=False)
        revocations.revoke(db, user_id=user.id)
    if was_enabled and not user.enabled:
        revocations.revoke(db, user_id=user.id)
    db.flush()
    return user


def delete(db: Session, user_id: str) -> None:
    user = get(db, user_id)
    db.execute(sa.delete(Assignment).where(Assignment.actor_type == "user", Assignment.actor_id == user.id))
    db.execute(sa.delete(Membership).where(Membership.user_id == user.id))
    db.execute(sa.delete(ApplicationCredential).where(ApplicationCredential.user_id == user.id))
    db.execute(sa.delete(Password).where(Password.user_id == user.id))
    revocations.revoke(db, user_id=user.id)
    db.delete(user)
    db.flush()


def change_own_password(identity: Identity, db: Session, user_id: str, original: str, new: str) -> None:
    """Self-service change: proves the original password as a login does (an unknown or disabled user, a
    locked account or a wrong password is a 401, and counts towards lockout), then applies every rule.

    ``db`` is a read transaction, as for issuing tokens; the change is made in a write transaction of its own.
    """
    user = authn.lookup_user(db, {"id": user_id})
    authn.check_password(identity, db, user, original, allow_expired=True)
    if user.options.get("lock_password"):
        raise BadRequest("You cannot change your password at this time due to password policy disallowing"
                         " password changes. Please contact your administrator to reset your password.")
    with identity.db.session() as write:
        user = get(write, user_id)
        stored = current_password(write, user.id)
        days = identity.settings.minimum_password_age
        if days and stored is not None and stored.self_service \
                and not user.options.get("ignore_password_expiry"):
            min_age = stored.created_at + timedelta(days=days)
            if utcnow() < min_age:
                raise BadRequest(
                    "You cannot change your password at this time due to the minimum password age. Once you"
                    f" change your password, it must be used for {days} day(s) before it can be changed."
                    f" Please try again in {(min_age - utcnow()).days} day(s) or contact your administrator"
                    " to reset your password.")
        _set_password(identity, write, user, new, self_service=True)
        revocations.revoke(write, user_id=user.id)


def _set_password(identity: Identity, db: Session, user: User, password: str, self_service: bool,
                  check_rules: bool = True) -> None:
    """The complexity rule applies to every change, the history only to the user's own (as in Keystone:
    an administrator may reset a password to any value)."""
    settings = identity.settings
    if not isinstance(password, str) or not password:
        raise BadRequest("Invalid input for field 'password': a non-empty string is required.")
    if check_rules and settings.password_regex and not re.match(settings.password_regex, password):
        detail = settings.password_regex_description or "it does not match the required pattern"
        raise BadRequest(f"The password does not match the requirements: {detail}.")
    keep = settings.unique_last_password_count
    if keep > 0 and self_service:
        recent = db.scalars(sa.select(Password).where(Password.user_id == user.id)
                            .order_by(Password.id.desc()).limit(keep))
        if any(identity.hasher.verify(p.hash, password) for p in recent):
            raise BadRequest("The new password cannot be identical to a previous password. The total number"
                             f" which includes the new password must be unique is {keep}.")
    expires = None
    if settings.password_expires_days and not user.options.get("ignore_password_expiry"):
        expires = utcnow() + timedelta(days=settings.password_expires_days)
    db.add(Password(user_id=user.id, hash=identity.hasher.hash(password), expires_at=expires,
                    self_service=self_service))
    if keep > 0:  # history beyond what is compared is not kept
        ids = list(db.scalars(sa.select(Password.id).where(Password.user_id == user.id)
                              .order_by(Password.id.desc()).offset(max(keep, 1) + 1)))
        if ids:
            db.execute(sa.delete(Password).where(Password.id.in_(ids)))
    db.flush()


def password_expires_at(db: Session, user_id: str):
    stored = current_password(db, user_id)
    return stored.expires_at if stored else None
