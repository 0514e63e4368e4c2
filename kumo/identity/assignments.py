"""Role assignments: grants, effective roles (groups, inheritance, implied roles), listing."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.errors import BadRequest, NotFound
from kumo.identity.core import SYSTEM_ALL, get_or_404
from kumo.identity.models import (Assignment, Domain, Group, ImpliedRole, Membership, Project, Role,
                                  User)

ACTORS = {"user": User, "group": Group}
TARGETS = {"project": Project, "domain": Domain}


def group_ids_of(db: Session, user_id: str) -> list[str]:
    return list(db.scalars(sa.select(Membership.group_id).where(Membership.user_id == user_id)))


def ancestors(db: Session, project: Project) -> list[Project]:
    chain, seen = [], {project.id}
    parent_id = project.parent_id
    while parent_id and parent_id not in seen:
        parent = db.get(Project, parent_id)
        if parent is None:
            break
        chain.append(parent)
        seen.add(parent_id)
        parent_id = parent.parent_id
    return chain


def _target_clauses(db: Session, project_id=None, domain_id=None, system=False):
    if system:
        return [sa.and_(Assignment.target_type == "system", Assignment.target_id == SYSTEM_ALL)]
    if domain_id:
        return [sa.and_(Assignment.target_type == "domain", Assignment.target_id == domain_id,
                        Assignment.inherited.is_(False))]
    project = db.get(Project, project_id)
    if project is None:
        return []
    inherited_from = [p.id for p in ancestors(db, project)]
    clauses = [
        sa.and_(Assignment.target_type == "project", Assignment.target_id == project.id,
                Assignment.inherited.is_(False)),
        sa.and_(Assignment.target_type == "domain", Assignment.target_id == project.domain_id,
                Assignment.inherited.is_(True)),
    ]
    if inherited_from:
        clauses.append(sa.and_(Assignment.target_type == "project", Assignment.target_id.in_(inherited_from),
                               Assignment.inherited.is_(True)))
    return clauses


def direct_role_ids(db: Session, user_id: str, *, project_id=None, domain_id=None, system=False) -> set[str]:
    """Roles granted to the user or its groups on the target, inheritance included, implied roles not."""
    targets = _target_clauses(db, project_id, domain_id, system)
    if not targets:
        return set()
    actors = sa.or_(
        sa.and_(Assignment.actor_type == "user", Assignment.actor_id == user_id),
        sa.and_(Assignment.actor_type == "group",
                Assignment.actor_id.in_(sa.select(Membership.group_id).where(Membership.user_id == user_id))),
    )
    return set(db.scalars(sa.select(Assignment.role_id).where(actors, sa.or_(*targets))))


def expand_implied(db: Session, role_ids: set[str]) -> set[str]:
    result, frontier = set(role_ids), set(role_ids)
    while frontier:
        implied = set(db.scalars(sa.select(ImpliedRole.implied_role_id)
                                 .where(ImpliedRole.prior_role_id.in_(frontier))))
        frontier = implied - result
        result |= implied
    return result


def effective_roles(db: Session, user_id: str, **scope) -> list[Role]:
    ids = expand_implied(db, direct_role_ids(db, user_id, **scope))
    if not ids:
        return []
    return list(db.scalars(sa.select(Role).where(Role.id.in_(ids)).order_by(Role.name)))


def projects_of_user(db: Session, user_id: str) -> list[Project]:
    """Projects on which the user has any role (directly, through a group, or inherited)."""
    group_ids = group_ids_of(db, user_id)
    actor = sa.or_(sa.and_(Assignment.actor_type == "user", Assignment.actor_id == user_id),
                   sa.and_(Assignment.actor_type == "group", Assignment.actor_id.in_(group_ids)))
    rows = db.execute(sa.select(Assignment.target_type, Assignment.target_id, Assignment.inherited)
                      .where(actor, Assignment.target_type.in_(["project", "domain"]))).all()
    direct = {tid for ttype, tid, inh in rows if ttype == "project" and not inh}
    inherited_projects = {tid for ttype, tid, inh in rows if ttype == "project" and inh}
    inherited_domains = {tid for ttype, tid, inh in rows if ttype == "domain" and inh}
    ids = set(direct)
    if inherited_domains:
        ids |= set(db.scalars(sa.select(Project.id).where(Project.domain_id.in_(inherited_domains))))
    if inherited_projects:
        frontier = set(inherited_projects)
        while frontier:
            children = set(db.scalars(sa.select(Project.id).where(Project.parent_id.in_(frontier))))
            frontier = children - ids
            ids |= children
    if not ids:
        return []
    return list(db.scalars(sa.select(Project).where(Project.id.in_(ids)).order_by(Project.name)))


def domains_of_user(db: Session, user_id: str) -> list[Domain]:
    group_ids = group_ids_of(db, user_id)
    actor = sa.or_(sa.and_(Assignment.actor_type == "user", Assignment.actor_id == user_id),
                   sa.and_(Assignment.actor_type == "group", Assignment.actor_id.in_(group_ids)))
    ids = set(db.scalars(sa.select(Assignment.target_id).where(
        actor, Assignment.target_type == "domain", Assignment.inherited.is_(False))))
    if not ids:
        return []
    return list(db.scalars(sa.select(Domain).where(Domain.id.in_(ids)).order_by(Domain.name)))


def has_system_role(db: Session, user_id: str) -> bool:
    return bool(direct_role_ids(db, user_id, system=True))


# -- grants -----------------------------------------------------------------

def _check(db: Session, actor_type: str, actor_id: str, target_type: str, target_id: str, role_id: str):
    get_or_404(db, ACTORS[actor_type], actor_id, actor_type)
    if target_type == "system":
        if target_id != SYSTEM_ALL:
            raise NotFound.resource("system", target_id)
    else:
        get_or_404(db, TARGETS[target_type], target_id, target_type)
    role = get_or_404(db, Role, role_id, "role")
    return role


def grant(db: Session, actor_type: str, actor_id: str, target_type: str, target_id: str, role_id: str,
          inherited: bool = False) -> None:
    role = _check(db, actor_type, actor_id, target_type, target_id, role_id)
    if target_type == "project" and role.domain_id:
        project = db.get(Project, target_id)
        if project.domain_id != role.domain_id:
            raise BadRequest("Domain specific roles are not supported in the V8 and earlier drivers"
                             " outside their domain.")
    key = dict(actor_type=actor_type, actor_id=actor_id, target_type=target_type, target_id=target_id,
               role_id=role_id, inherited=inherited)
    if db.get(Assignment, key) is None:
        db.add(Assignment(**key))
        db.flush()


def check_grant(db: Session, actor_type, actor_id, target_type, target_id, role_id, inherited=False) -> None:
    _check(db, actor_type, actor_id, target_type, target_id, role_id)
    key = dict(actor_type=actor_type, actor_id=actor_id, target_type=target_type, target_id=target_id,
               role_id=role_id, inherited=inherited)
    if db.get(Assignment, key) is None:
        raise NotFound(f"Could not find role assignment with role: {role_id}, {actor_type}: {actor_id}"
                       f" and {target_type}: {target_id}.")


def revoke(db: Session, actor_type, actor_id, target_type, target_id, role_id, inherited=False) -> None:
    from kumo.identity import revocations

    check_grant(db, actor_type, actor_id, target_type, target_id, role_id, inherited)
    db.execute(sa.delete(Assignment).where(
        Assignment.actor_type == actor_type, Assignment.actor_id == actor_id,
        Assignment.target_type == target_type, Assignment.target_id == target_id,
        Assignment.role_id == role_id, Assignment.inherited.is_(inherited)))
    if actor_type == "user":
        scope = {"project_id": target_id} if target_type == "project" else {}
        revocations.revoke(db, user_id=actor_id, **scope)
    else:
        for user_id in db.scalars(sa.select(Membership.user_id).where(Membership.group_id == actor_id)):
            revocations.revoke(db, user_id=user_id)


def grants_on(db: Session, actor_type, actor_id, target_type, target_id, inherited=False) -> list[Role]:
    _check_actor_target(db, actor_type, actor_id, target_type, target_id)
    ids = db.scalars(sa.select(Assignment.role_id).where(
        Assignment.actor_type == actor_type, Assignment.actor_id == actor_id,
        Assignment.target_type == target_type, Assignment.target_id == target_id,
        Assignment.inherited.is_(inherited)))
    return list(db.scalars(sa.select(Role).where(Role.id.in_(list(ids))).order_by(Role.name)))


def _check_actor_target(db, actor_type, actor_id, target_type, target_id):
    get_or_404(db, ACTORS[actor_type], actor_id, actor_type)
    if target_type != "system":
        get_or_404(db, TARGETS[target_type], target_id, target_type)
