"""``/v3/projects``."""

from __future__ import annotations

from kumo.api import validation as v
from kumo.api.routing import Call, Reply
from kumo.identity import projects
from kumo.identity.core import DEFAULT_DOMAIN_ID
from kumo.identity.http import render
from kumo.identity.http.common import collection_links, query_filters, router
from kumo.identity.policies import policy

PROPS = {"name": v.name(64), "description": v.DESCRIPTION, "enabled": v.BOOLEAN, "domain_id": v.NULLABLE_ID,
         "parent_id": v.NULLABLE_ID, "is_domain": {"type": "boolean", "enum": [False]}, "tags": v.TAGS,
         "options": {"type": "object"}}
CREATE = v.resource("project", PROPS, required=("name",))
UPDATE = v.resource("project", PROPS)
EXTRA_KEYS = set(PROPS) | {"id", "links"}


def _target(p) -> dict:
    return {"id": p.id, "domain_id": p.domain_id, "project_domain": p.domain_id}


def _extra(body: dict) -> dict:
    return {k: val for k, val in body.items() if k not in EXTRA_KEYS}


@router.post("/v3/projects")
def create_project(call: Call):
    body = v.check(call.body, CREATE)["project"]
    ctx = call.ctx
    domain_id = body.get("domain_id") or ctx.project_domain_id or ctx.domain_id or DEFAULT_DOMAIN_ID
    policy.enforce(ctx, "identity:create_project", {"domain_id": domain_id})
    project = projects.create(call.db, name=body["name"], domain_id=domain_id, parent_id=body.get("parent_id"),
                              description=body.get("description") or "", enabled=body.get("enabled", True),
                              tags=body.get("tags", []), options=body.get("options"), extra=_extra(body))
    return Reply({"project": render.project(call, project)}, status=201)


@router.get("/v3/projects")
def list_projects(call: Call):
    ctx = call.ctx
    filters = query_filters(call, projects.FILTERS)
    policy.enforce(ctx, "identity:list_projects", {"domain_id": filters.get("domain_id", ctx.domain_id)})
    if not (ctx.is_admin or ctx.system) and ctx.domain_id:
        filters["domain_id"] = ctx.domain_id
    tags = {key: call.query.get(key).split(",") for key in ("tags", "tags-any", "not-tags", "not-tags-any")
            if call.query.get(key)}
    found = projects.list_(call.db, filters, tags)
    return {"projects": [render.project(call, p) for p in found], "links": collection_links(call)}


@router.get("/v3/projects/{project_id}")
def get_project(call: Call):
    project = projects.get(call.db, call.params["project_id"])
    policy.enforce(call.ctx, "identity:get_project", _target(project))
    return {"project": render.project(call, project)}


@router.patch("/v3/projects/{project_id}")
def update_project(call: Call):
    body = v.check(call.body, UPDATE)["project"]
    project = projects.get(call.db, call.params["project_id"])
    policy.enforce(call.ctx, "identity:update_project", _target(project))
    project = projects.update(call.db, project.id, body)
    if _extra(body):
        project.extra = {**project.extra, **_extra(body)}
    return {"project": render.project(call, project)}


@router.delete("/v3/projects/{project_id}")
def delete_project(call: Call):
    project = projects.get(call.db, call.params["project_id"])
    policy.enforce(call.ctx, "identity:delete_project", _target(project))
    projects.delete(call.db, project.id)
    return Reply(None, status=204)


# -- tags --------------------------------------------------------------------

@router.get("/v3/projects/{project_id}/tags")
def list_tags(call: Call):
    project = projects.get(call.db, call.params["project_id"])
    policy.enforce(call.ctx, "identity:project_tags", _target(project))
    return {"tags": list(project.tags or []), "links": collection_links(call)}


@router.put("/v3/projects/{project_id}/tags")
def replace_tags(call: Call):
    body = v.check(call.body, {"type": "object", "required": ["tags"], "properties": {"tags": v.TAGS}})
    project = projects.get(call.db, call.params["project_id"])
    policy.enforce(call.ctx, "identity:update_project_tags", _target(project))
    project = projects.update(call.db, project.id, {"tags": body["tags"]})
    return {"tags": list(project.tags), "links": collection_links(call)}


@router.route("/v3/projects/{project_id}/tags/{tag}", ["GET", "HEAD"])
def check_tag(call: Call):
    from kumo.errors import NotFound

    project = projects.get(call.db, call.params["project_id"])
    policy.enforce(call.ctx, "identity:project_tags", _target(project))
    if call.params["tag"] not in (project.tags or []):
        raise NotFound(f"Tag {call.params['tag']} not found for project {project.id}.")
    return Reply(None, status=204)


@router.put("/v3/projects/{project_id}/tags/{tag}")
def add_tag(call: Call):
    project = projects.get(call.db, call.params["project_id"])
    policy.enforce(call.ctx, "identity:update_project_tags", _target(project))
    tag = call.params["tag"]
    v.check([tag], v.TAGS, "tag")
    if tag not in project.tags:
        projects.update(call.db, project.id, {"tags": list(project.tags) + [tag]})
    return Reply(None, status=201, headers={"Location": f"{call.url}"})


@router.delete("/v3/projects/{project_id}/tags/{tag}")
def remove_tag(call: Call):
    from kumo.errors import NotFound

    project = projects.get(call.db, call.params["project_id"])
    policy.enforce(call.ctx, "identity:update_project_tags", _target(project))
    if call.params["tag"] not in project.tags:
        raise NotFound(f"Tag {call.params['tag']} not found for project {project.id}.")
    projects.update(call.db, project.id, {"tags": [t for t in project.tags if t != call.params["tag"]]})
    return Reply(None, status=204)


@router.delete("/v3/projects/{project_id}/tags")
def clear_tags(call: Call):
    project = projects.get(call.db, call.params["project_id"])
    policy.enforce(call.ctx, "identity:update_project_tags", _target(project))
    projects.update(call.db, project.id, {"tags": []})
    return Reply(None, status=204)
