"""Identity resources as Keystone renders them."""

from __future__ import annotations

from kumo.api.routing import Call
from kumo.identity.assignments import Listed
from kumo.identity.core import DEFAULT_DOMAIN_ID
from kumo.identity.http.common import base, isotime, link
from kumo.identity.models import (ApplicationCredential, Domain, Endpoint, Group, Project, Region, Role, Service,
                                  User)


def domain(call: Call, d: Domain) -> dict:
    return {"id": d.id, "name": d.name, "description": d.description, "enabled": d.enabled,
            "tags": list(d.tags or []), "options": dict(d.options or {}), "links": link(call, f"domains/{d.id}"),
            **(d.extra or {})}


def project(call: Call, p: Project) -> dict:
    return {"id": p.id, "name": p.name, "domain_id": p.domain_id, "parent_id": p.parent_id or p.domain_id,
            "description": p.description, "enabled": p.enabled, "is_domain": False, "tags": list(p.tags or []),
            "options": dict(p.options or {}), "links": link(call, f"projects/{p.id}"), **(p.extra or {})}


def user(call: Call, u: User, password_expires_at=None) -> dict:
    body = {"id": u.id, "name": u.name, "domain_id": u.domain_id, "enabled": u.enabled,
            "password_expires_at": isotime(password_expires_at), "options": dict(u.options or {}),
            "links": link(call, f"users/{u.id}"), **(u.extra or {})}
    if u.description:
        body["description"] = u.description
    if u.default_project_id:
        body["default_project_id"] = u.default_project_id
    return body


def group(call: Call, g: Group) -> dict:
    return {"id": g.id, "name": g.name, "domain_id": g.domain_id, "description": g.description,
            "links": link(call, f"groups/{g.id}"), **(g.extra or {})}


def role(call: Call, r: Role) -> dict:
    return {"id": r.id, "name": r.name, "domain_id": r.domain_id or None, "description": r.description,
            "options": dict(r.options or {}), "links": link(call, f"roles/{r.id}")}


def role_ref(call: Call, r: Role) -> dict:
    body = {"id": r.id, "name": r.name, "links": link(call, f"roles/{r.id}")}
    if r.domain_id:
        body["domain_id"] = r.domain_id
    return body


def app_credential(call: Call, c: ApplicationCredential, roles: list[Role], access_rules: list[dict]) -> dict:
    return {"id": c.id, "name": c.name, "description": c.description or None, "user_id": c.user_id,
            "project_id": c.project_id, "system": c.system,
            # echoed as given, without a zone (Keystone's form; Tempest compares it to datetime.isoformat())
            "expires_at": c.expires_at.isoformat() if c.expires_at else None,
            "unrestricted": c.unrestricted, "roles": [{"id": r.id, "name": r.name, "domain_id": r.domain_id or None}
                                                      for r in roles],
            "access_rules": access_rules,
            "links": link(call, f"users/{c.user_id}/application_credentials/{c.id}")}


def domain_ref(d: Domain | None, domain_id: str = DEFAULT_DOMAIN_ID) -> dict:
    return {"id": d.id, "name": d.name} if d else {"id": domain_id, "name": None}


def region(call: Call, r: Region) -> dict:
    return {"id": r.id, "description": r.description, "parent_region_id": r.parent_region_id,
            "links": link(call, f"regions/{r.id}"), **(r.extra or {})}


def service(call: Call, s: Service) -> dict:
    return {"id": s.id, "type": s.type, "name": s.name, "description": s.description, "enabled": s.enabled,
            "links": link(call, f"services/{s.id}"), **(s.extra or {})}


def endpoint(call: Call, e: Endpoint) -> dict:
    return {"id": e.id, "service_id": e.service_id, "interface": e.interface, "region_id": e.region_id,
            "region": e.region_id, "url": e.url, "enabled": e.enabled, "links": link(call, f"endpoints/{e.id}"),
            **(e.extra or {})}


def role_assignment(call: Call, a: Listed) -> dict:
    """One entry of ``/v3/role_assignments``; its ``assignment`` link is the grant that gives it (for an
    effective entry: the group's, the inheriting target's, or the prior role's grant), as Keystone builds it."""
    names = a.names or {}

    def entity(kind: str, ident: str) -> dict:
        return names.get(kind) or {"id": ident}

    root = base(call)
    links: dict = {}
    if a.project_id:
        scope = {"project": entity("project", a.project_id)}
        path = f"/domains/{a.via_domain}" if a.via_domain else f"/projects/{a.via_project or a.project_id}"
    elif a.domain_id:
        scope, path = {"domain": entity("domain", a.domain_id)}, f"/domains/{a.domain_id}"
    else:
        scope, path = {"system": {"all": True}}, "/system"
    body = {"links": links, "scope": scope}
    if a.user_id:
        body["user"] = entity("user", a.user_id)
        if a.via_group:
            links["membership"] = f"{root}/groups/{a.via_group}/users/{a.user_id}"
        path += f"/groups/{a.via_group}" if a.via_group else f"/users/{a.user_id}"
    else:
        body["group"] = entity("group", a.group_id)
        path += f"/groups/{a.group_id}"
    body["role"] = entity("role", a.role_id)
    path += f"/roles/{a.via_role or a.role_id}"
    if a.inherited or a.via_domain or a.via_project:
        scope["OS-INHERIT:inherited_to"] = "projects"
        path = f"/OS-INHERIT{path}/inherited_to_projects"
    links["assignment"] = root + path
    if a.via_role:  # Keystone's own form: the implied role first
        links["prior_role"] = f"{root}/prior_role/{a.role_id}/implies/{a.via_role}"
    return body
