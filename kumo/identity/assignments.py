"""Role assignments: grants, effective roles (groups, inheritance, implied roles), listing."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

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


def policy_target(db: Session, actor_type: str, actor_id: str, target_type: str, target_id: str) -> dict:
    """What the grant policies look at: the domain of the target (a project's domain, or the domain itself)
    and the domain of the actor (user or group); None where there is none (the system) or the row is gone."""
    if target_type == "project":
        project = db.get(Project, target_id)
        domain_id = project.domain_id if project is not None else None
    else:
        domain_id = target_id if target_type == "domain" else None
    actor = db.get(ACTORS[actor_type], actor_id) if actor_type in ACTORS else None
    return {"domain_id": domain_id, "actor_domain_id": actor.domain_id if actor is not None else None}


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


# -- listing (GET /v3/role_assignments) -------------------------------------

@dataclass(frozen=True)
class Listed:
    """One role assignment as Keystone lists it: a role an actor holds on a target and, in an effective
    listing, where it comes from (a group, an inheriting domain or project, a prior role)."""
    role_id: str
    user_id: str | None = None
    group_id: str | None = None
    project_id: str | None = None
    domain_id: str | None = None
    system: bool = False
    inherited: bool = False
    via_group: str | None = None
    via_domain: str | None = None
    via_project: str | None = None
    via_role: str | None = None
    # with ``include_names``: "role", "user", "group", "project", "domain" → the entity as Keystone names it
    names: dict | None = field(default=None, compare=False, hash=False)


def list_assignments(db: Session, *, role_id=None, user_id=None, group_id=None, system=None, domain_id=None,
                     project_id=None, include_subtree=False, inherited: bool | None = None,
                     effective=False) -> list[Listed]:
    """Keystone's ``list_role_assignments``. ``system`` is the ``scope.system`` filter (only "all"
    selects), ``inherited`` True/False keeps only inherited/direct ones, None both. ``effective`` expands
    groups into their members, inheritance into the projects it reaches and roles into those they imply."""
    for a, b, message in ((domain_id, project_id, "Specify a domain or project, not both"),
                          (system, domain_id, "Specify system or domain, not both"),
                          (system, project_id, "Specify system or project, not both"),
                          (user_id, group_id, "Specify a user or group, not both")):
        if a and b:
            raise BadRequest(message)
    if effective and group_id:
        raise BadRequest("Combining effective and group filter will always result in an empty list.")
    if effective and inherited and domain_id:
        raise BadRequest("Combining effective, domain and inherited filters will always result in an empty"
                         " list.")
    subtree_ids = None
    if include_subtree:
        if not project_id:
            raise BadRequest("scope.project.id must be specified if include_subtree is also specified")
        from kumo.identity import projects
        subtree_ids = [p.id for p in projects.subtree(db, get_or_404(db, Project, project_id, "project").id)]
    system = system == SYSTEM_ALL
    if effective:
        return _effective(db, role_id, user_id, system, domain_id, project_id, subtree_ids, inherited)
    project_ids = [project_id] + (subtree_ids or []) if project_id else None
    found = []
    if not system:
        found = _rows(db, role_id=role_id, user_id=user_id, group_ids=[group_id] if group_id else None,
                      domain_id=domain_id, project_ids=project_ids, inherited=inherited)
    if system or not (project_id or domain_id or inherited):
        found += _rows(db, role_id=role_id, user_id=user_id, group_ids=[group_id] if group_id else None,
                       on_system=True)
    return found


def _rows(db: Session, *, role_id=None, user_id=None, group_ids=None, domain_id=None, project_ids=None,
          inherited=None, on_system=False) -> list[Listed]:
    """Stored assignments matching every given filter (actors: the user, the groups, or anyone)."""
    query = sa.select(Assignment)
    if user_id:
        query = query.where(Assignment.actor_type == "user", Assignment.actor_id == user_id)
    elif group_ids is not None:
        query = query.where(Assignment.actor_type == "group", Assignment.actor_id.in_(group_ids))
    if on_system:
        query = query.where(Assignment.target_type == "system")
    elif domain_id:
        query = query.where(Assignment.target_type == "domain", Assignment.target_id == domain_id)
    elif project_ids is not None:
        query = query.where(Assignment.target_type == "project", Assignment.target_id.in_(project_ids))
    else:
        query = query.where(Assignment.target_type.in_(["project", "domain"]))
    if role_id:
        query = query.where(Assignment.role_id == role_id)
    if inherited is not None:
        query = query.where(Assignment.inherited.is_(inherited))
    query = query.order_by(Assignment.target_type.desc(), Assignment.target_id, Assignment.actor_type.desc(),
                           Assignment.actor_id, Assignment.role_id, Assignment.inherited)
    return [Listed(role_id=a.role_id, user_id=a.actor_id if a.actor_type == "user" else None,
                   group_id=a.actor_id if a.actor_type == "group" else None,
                   project_id=a.target_id if a.target_type == "project" else None,
                   domain_id=a.target_id if a.target_type == "domain" else None,
                   system=a.target_type == "system", inherited=a.inherited) for a in db.scalars(query)]


def _effective(db: Session, role_id, user_id, system, domain_id, project_id, subtree_ids, inherited):
    if domain_id:
        inherited = False  # domains inherit nothing
    if system:
        # Keystone's effective listing leaves the system out altogether; Kumo answers when it is asked for
        found = _rows(db, user_id=user_id, on_system=True)
        groups = group_ids_of(db, user_id) if user_id else []
        if groups:
            found += _rows(db, group_ids=groups, on_system=True)
    else:
        scope = dict(project_id=project_id, subtree_ids=subtree_ids, domain_id=domain_id)
        found = _for_actor(db, inherited, user_id=user_id, **scope)
        groups = group_ids_of(db, user_id) if user_id else []
        if groups:
            found += _for_actor(db, inherited, group_ids=groups, **scope)
    expanded = [new for ref in found for new in _expand(db, ref, user_id, project_id, subtree_ids)]
    expanded = _with_implied(db, expanded)
    domain_roles = set(db.scalars(sa.select(Role.id).where(Role.id.in_({r.role_id for r in expanded}),
                                                           Role.domain_id != "")))
    return [r for r in expanded if r.role_id not in domain_roles and (not role_id or r.role_id == role_id)]


def _for_actor(db: Session, inherited, *, user_id=None, group_ids=None, project_id=None, subtree_ids=None,
               domain_id=None) -> list[Listed]:
    """The stored assignments that can reach the target: direct ones on it, and inherited ones from above."""
    actor = dict(user_id=user_id, group_ids=group_ids)
    project_ids = [project_id] + (subtree_ids or []) if project_id else None
    found = []
    if inherited is not True:
        found += _rows(db, domain_id=domain_id, project_ids=project_ids, inherited=False, **actor)
    if inherited is not False:
        if project_id:
            project = get_or_404(db, Project, project_id, "project")
            found += _rows(db, domain_id=project.domain_id, inherited=True, **actor)
            sources = [p.id for p in ancestors(db, project)] + (project_ids if subtree_ids else [])
            if sources:
                found += _rows(db, project_ids=sources, inherited=True, **actor)
        else:
            found += _rows(db, inherited=True, **actor)
    return found


def _expand(db: Session, ref: Listed, user_id, project_id, subtree_ids) -> list[Listed]:
    """A group's assignment becomes one per member; an inherited one, one per project it reaches."""
    from kumo.identity import projects

    if ref.group_id:
        members = [user_id] if user_id else list(db.scalars(
            sa.select(Membership.user_id).where(Membership.group_id == ref.group_id).order_by(Membership.user_id)))
        refs = [replace(ref, user_id=member, group_id=None, via_group=ref.group_id) for member in members]
    else:
        refs = [ref]
    if not ref.inherited:
        return refs
    if project_id:
        reached = [project_id] + (subtree_ids or [])
        if subtree_ids and ref.project_id in reached:  # inherited from inside the subtree: only below it
            reached = [p.id for p in projects.subtree(db, ref.project_id)]
    elif ref.domain_id:
        reached = list(db.scalars(sa.select(Project.id).where(Project.domain_id == ref.domain_id)
                                  .order_by(Project.name)))
    else:
        reached = [p.id for p in projects.subtree(db, ref.project_id)]
    return [replace(r, project_id=target, domain_id=None, inherited=False, via_project=ref.project_id,
                    via_domain=ref.domain_id) for r in refs for target in reached]


def _with_implied(db: Session, refs: list[Listed]) -> list[Listed]:
    """Each assignment of a prior role is followed by one per role it implies (transitively)."""
    results, pending, seen, implied_by = list(refs), list(refs), set(refs), {}
    while pending:
        ref = pending.pop()
        if ref.role_id not in implied_by:
            implied_by[ref.role_id] = list(db.scalars(sa.select(ImpliedRole.implied_role_id)
                                                      .where(ImpliedRole.prior_role_id == ref.role_id)))
        for implied in implied_by[ref.role_id]:
            new = replace(ref, role_id=implied, via_role=ref.role_id)
            if new not in seen:
                seen.add(new)
                results.append(new)
                pending.append(new)
    return results


def in_domain(db: Session, refs: list[Listed], domain_id: str) -> list[Listed]:
    """The assignments a domain-scoped caller may see: on its domain or on projects in it."""
    project_ids = {r.project_id for r in refs if r.project_id}
    inside = set(db.scalars(sa.select(Project.id).where(Project.id.in_(project_ids),
                                                        Project.domain_id == domain_id))) if project_ids else set()
    return [r for r in refs if r.domain_id == domain_id or r.project_id in inside]


def with_names(db: Session, refs: list[Listed]) -> list[Listed]:
    """The assignments with each entity named as Keystone's ``include_names`` shows it."""
    domains: dict[str, str] = {}

    def domain_name(domain_id: str) -> str:
        if domain_id not in domains:
            found = db.get(Domain, domain_id)
            domains[domain_id] = found.name if found else ""
        return domains[domain_id]

    def member(model, ident: str) -> dict:  # a user or a group: name and domain ("" when gone)
        row = db.get(model, ident)
        if row is None:
            return {"id": ident, "name": "", "domain": {"id": "", "name": ""}}
        return {"id": row.id, "name": row.name, "domain": {"id": row.domain_id, "name": domain_name(row.domain_id)}}

    named = []
    for ref in refs:
        names = {}
        role = db.get(Role, ref.role_id)
        names["role"] = {"id": ref.role_id, "name": role.name if role else ""}
        if role is not None and role.domain_id:
            names["role"]["domain"] = {"id": role.domain_id, "name": domain_name(role.domain_id)}
        if ref.user_id:
            names["user"] = member(User, ref.user_id)
        if ref.group_id:
            names["group"] = member(Group, ref.group_id)
        if ref.project_id:
            project = db.get(Project, ref.project_id)
            names["project"] = {"id": ref.project_id, "name": project.name if project else "",
                                "domain": {"id": project.domain_id if project else "",
                                           "name": domain_name(project.domain_id) if project else ""}}
        if ref.domain_id:
            names["domain"] = {"id": ref.domain_id, "name": domain_name(ref.domain_id)}
        named.append(replace(ref, names=names))
    return named
