"""Application credentials (a user's delegated, revocable secrets) and their access rules."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.db import utcnow
from kumo.errors import BadRequest, Conflict, Forbidden, NotFound
from kumo.identity.core import SYSTEM_ALL, Identity, get_or_404
from kumo.identity.models import AccessRule, ApplicationCredential, Role, User

ACCESS_RULE_FILTERS = ("service", "path", "method")


def new_secret() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(64)).decode().rstrip("=")


def parse_expiry(value: str | None) -> datetime | None:
    """An ISO 8601 time (naive means UTC) as a naive UTC datetime; BadRequest when malformed."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except (TypeError, ValueError):
        raise BadRequest(f"Invalid input for field 'expires_at': {value!r} is not an ISO 8601 time.") from None
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    return when


def check_unrestricted(db: Session, ctx: Context) -> None:
    """A token from a restricted application credential cannot manage application credentials."""
    if ctx.app_cred_id is None:
        return
    cred = db.get(ApplicationCredential, ctx.app_cred_id)
    if cred is None or not cred.unrestricted:
        raise Forbidden("Using method 'application_credential' is not allowed for managing additional "
                        "application credentials.")


def create(identity: Identity, db: Session, ctx: Context, user_id: str, *, name: str, description: str = "",
           secret: str | None = None, expires_at: str | None = None, roles: list[dict] | None = None,
           unrestricted: bool = False, access_rules: list[dict] | None = None
           ) -> tuple[ApplicationCredential, str]:
    """Create a credential for the caller (who must be ``user_id``) on the caller's scope; return it and
    its secret, which is never shown again."""
    get_or_404(db, User, user_id, "user")
    check_unrestricted(db, ctx)
    if ctx.project_id is None and not ctx.system:
        raise BadRequest("Application credentials are created with a project-scoped (or system-scoped) token.")
    expiry = parse_expiry(expires_at)
    if expiry is not None and expiry <= utcnow():
        raise BadRequest("Invalid application credential: the expiration time is in the past.")
    if db.scalars(sa.select(ApplicationCredential.id).where(
            ApplicationCredential.user_id == user_id, ApplicationCredential.name == name)).first():
        raise Conflict(f"Conflict occurred attempting to store application_credential - Duplicate entry "
                       f"found with name {name}.")
    role_ids = _role_ids(db, ctx, roles)
    rule_ids = [rule.id for rule in _access_rules(db, user_id, access_rules or [])]
    secret = secret or new_secret()
    cred = ApplicationCredential(
        name=name, user_id=user_id, description=description or "", secret_hash=identity.hasher.hash(secret),
        project_id=ctx.project_id, system=SYSTEM_ALL if ctx.project_id is None else None, expires_at=expiry,
        unrestricted=bool(unrestricted), role_ids=role_ids, access_rule_ids=rule_ids)
    db.add(cred)
    db.flush()
    return cred, secret


def _role_ids(db: Session, ctx: Context, refs: list[dict] | None) -> list[str]:
    """The roles asked for (by id, or by name and optional domain), each one the caller holds on the scope;
    all the caller's roles when none are named."""
    if not refs:
        return sorted(ctx.role_ids)
    ids = []
    for ref in refs:
        if ref.get("id"):
            role = db.get(Role, str(ref["id"]))
            label = ref["id"]
        else:
            role = db.scalars(sa.select(Role).where(Role.name == str(ref["name"]),
                                                    Role.domain_id == (ref.get("domain_id") or ""))).first()
            label = ref["name"]
        if role is None:
            raise NotFound(f"Could not find role: {label}.")
        if role.id not in ctx.role_ids:
            raise BadRequest(f"Invalid application credential: cannot create an application credential with "
                             f"unassigned role {label}.")
        if role.id not in ids:
            ids.append(role.id)
    return ids


def _access_rules(db: Session, user_id: str, refs: list[dict]) -> list[AccessRule]:
    """Each rule named by id (one of the user's), or described (an identical existing rule is reused)."""
    found = []
    for ref in refs:
        if ref.get("id") and not any(ref.get(k) for k in ACCESS_RULE_FILTERS):
            rule = db.get(AccessRule, str(ref["id"]))
            if rule is None or rule.user_id != user_id:
                raise NotFound(f"Could not find access rule: {ref['id']}.")
        else:
            if not all(ref.get(k) for k in ACCESS_RULE_FILTERS):
                raise BadRequest("An access rule has a service, a path and a method (or the id of an existing "
                                 "rule).")
            rule = db.scalars(sa.select(AccessRule).where(
                AccessRule.user_id == user_id, AccessRule.service == ref["service"],
                AccessRule.path == ref["path"], AccessRule.method == ref["method"])).first()
            if rule is None:
                rule = AccessRule(user_id=user_id, service=ref["service"], path=ref["path"], method=ref["method"])
                if ref.get("id"):
                    rule.id = str(ref["id"])
                db.add(rule)
                db.flush()
        if rule not in found:
            found.append(rule)
    return found


def get(db: Session, user_id: str, cred_id: str) -> ApplicationCredential:
    get_or_404(db, User, user_id, "user")
    cred = db.get(ApplicationCredential, cred_id)
    if cred is None or cred.user_id != user_id:
        raise NotFound.resource("application credential", cred_id)
    return cred


def list_(db: Session, user_id: str, name: str | None = None) -> list[ApplicationCredential]:
    get_or_404(db, User, user_id, "user")
    query = sa.select(ApplicationCredential).where(ApplicationCredential.user_id == user_id)
    if name is not None:
        query = query.where(ApplicationCredential.name == name)
    return list(db.scalars(query.order_by(ApplicationCredential.created_at, ApplicationCredential.id)))


def delete(db: Session, ctx: Context, user_id: str, cred_id: str) -> None:
    """Delete a credential; tokens issued with it stop validating (they name a credential that is gone)."""
    cred = get(db, user_id, cred_id)
    check_unrestricted(db, ctx)
    db.delete(cred)
    db.flush()


def roles_of(db: Session, cred: ApplicationCredential) -> list[Role]:
    if not cred.role_ids:
        return []
    return list(db.scalars(sa.select(Role).where(Role.id.in_(list(cred.role_ids))).order_by(Role.name)))


def access_rules_of(db: Session, cred: ApplicationCredential) -> list[AccessRule]:
    if not cred.access_rule_ids:
        return []
    return list(db.scalars(sa.select(AccessRule).where(AccessRule.id.in_(list(cred.access_rule_ids)))))


# -- access rules --------------------------------------------------------------

def list_access_rules(db: Session, user_id: str, filters: dict[str, str]) -> list[AccessRule]:
    get_or_404(db, User, user_id, "user")
    query = sa.select(AccessRule).where(AccessRule.user_id == user_id)
    for key in ACCESS_RULE_FILTERS:
        if key in filters:
            query = query.where(getattr(AccessRule, key) == filters[key])
    return list(db.scalars(query.order_by(AccessRule.service, AccessRule.path, AccessRule.id)))


def get_access_rule(db: Session, user_id: str, rule_id: str) -> AccessRule:
    get_or_404(db, User, user_id, "user")
    rule = db.get(AccessRule, rule_id)
    if rule is None or rule.user_id != user_id:
        raise NotFound.resource("access rule", rule_id)
    return rule


def delete_access_rule(db: Session, user_id: str, rule_id: str) -> None:
    """Delete an access rule no application credential uses any more (403 while one does)."""
    rule = get_access_rule(db, user_id, rule_id)
    for cred in db.scalars(sa.select(ApplicationCredential).where(ApplicationCredential.user_id == user_id)):
        if rule.id in (cred.access_rule_ids or []):
            raise Forbidden(f"Cannot delete access rule {rule.id}: it is in use by application credential "
                            f"{cred.id}.")
    db.delete(rule)
    db.flush()
