"""Projects: a hierarchy inside a domain, with tags."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.db import filters
from kumo.errors import BadRequest, Conflict, Forbidden
from kumo.identity import revocations
from kumo.identity.assignments import ancestors
from kumo.identity.core import get_or_404
from kumo.identity.models import ApplicationCredential, Assignment, Domain, Project

FILTERS = {"name": Project.name, "domain_id": Project.domain_id, "enabled": Project.enabled,
           "parent_id": Project.parent_id}


# Keystone's max_project_tree_depth: projects under a domain nest at most this deep (top-level projects: 1)
MAX_PROJECT_TREE_DEPTH = 5


def get(db: Session, project_id: str) -> Project:
    return get_or_404(db, Project, project_id, "project")


def create(db: Session, *, name: str, domain_id: str, parent_id: str | None = None, description: str = "",
           enabled: bool = True, tags=(), options=None, extra=None) -> Project:
    get_or_404(db, Domain, domain_id, "domain")
    if parent_id and parent_id != domain_id:
        parent = get(db, parent_id)
        if parent.domain_id != domain_id:
            raise BadRequest("Cannot create project, the parent is in another domain.")
        branch = [parent, *ancestors(db, parent)]
        for ancestor in branch:  # as Keystone: the whole branch must be enabled
            if not ancestor.enabled:
                raise BadRequest(f"cannot create a project in a branch containing a disabled project: {ancestor.id}")
        if len(branch) >= MAX_PROJECT_TREE_DEPTH:  # the new project would be one level too deep
            raise Forbidden(f"Max hierarchy depth reached for {parent_id} branch.")
    else:
        parent_id = None
    if db.scalars(sa.select(Project.id).where(Project.name == name, Project.domain_id == domain_id)).first():
        raise Conflict(f"Conflict occurred attempting to store project - it is not permitted to have two"
                       f" projects with the same name in the same domain : {name}.")
    project = Project(name=name, domain_id=domain_id, parent_id=parent_id, description=description or "",
                      enabled=enabled, tags=list(tags), options=options or {}, extra=extra or {})
    db.add(project)
    db.flush()
    return project


def list_(db: Session, query_filters: dict, tags: dict | None = None) -> list[Project]:
    query = filters.apply(sa.select(Project), FILTERS, query_filters)
    rows = list(db.scalars(query.order_by(Project.name)))
    return [p for p in rows if _tags_match(p.tags, tags or {})]


def _tags_match(have: list, wanted: dict) -> bool:
    have = set(have or [])
    if wanted.get("tags") and not set(wanted["tags"]) <= have:
        return False
    if wanted.get("tags-any") and not set(wanted["tags-any"]) & have:
        return False
    if wanted.get("not-tags") and set(wanted["not-tags"]) <= have:
        return False
    if wanted.get("not-tags-any") and set(wanted["not-tags-any"]) & have:
        return False
    return True


def update(db: Session, project_id: str, changes: dict) -> Project:
    project = get(db, project_id)
    if "domain_id" in changes and changes["domain_id"] != project.domain_id:
        raise BadRequest("Cannot change the domain of a project.")
    if "parent_id" in changes and changes["parent_id"] != (project.parent_id or project.domain_id):
        raise BadRequest("Cannot change the parent of a project.")
    name = changes.get("name")
    if name and name != project.name and db.scalars(sa.select(Project.id).where(
            Project.name == name, Project.domain_id == project.domain_id)).first():
        raise Conflict(f"Conflict occurred attempting to store project - it is not permitted to have two"
                       f" projects with the same name in the same domain : {name}.")
    was_enabled = project.enabled
    if changes.get("enabled") is True and not was_enabled \
            and any(not p.enabled for p in ancestors(db, project)):
        raise Forbidden(f"Cannot enable project {project.id} since it has disabled parents")
    if changes.get("enabled") is False and was_enabled and any(p.enabled for p in subtree(db, project.id)):
        raise Forbidden(f"Cannot disable project {project.id} since its subtree contains enabled projects.")
    for key in ("name", "description", "enabled", "tags", "options"):
        if key in changes:
            setattr(project, key, changes[key] if changes[key] is not None else "")
    if was_enabled and not project.enabled:
        revocations.revoke(db, project_id=project.id)
    db.flush()
    return project


def delete(db: Session, project_id: str, cascade: bool = False) -> None:
    project = get(db, project_id)
    children = list(db.scalars(sa.select(Project).where(Project.parent_id == project.id)))
    if children and not cascade:
        raise Forbidden(f"Cannot delete the project {project.id} since it is not a leaf in the hierarchy. Use the"
                        " cascade option if you want to delete a whole subtree.")
    for child in children:
        delete(db, child.id, cascade=True)
    db.execute(sa.delete(Assignment).where(Assignment.target_type == "project",
                                           Assignment.target_id == project.id))
    db.execute(sa.delete(ApplicationCredential).where(ApplicationCredential.project_id == project.id))
    revocations.revoke(db, project_id=project.id)
    db.delete(project)
    db.flush()


def subtree(db: Session, project_id: str) -> list[Project]:
    found, frontier = [], [project_id]
    while frontier:
        children = list(db.scalars(sa.select(Project).where(Project.parent_id.in_(frontier))))
        found.extend(children)
        frontier = [c.id for c in children]
    return found
