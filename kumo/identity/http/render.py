"""Identity resources as Keystone renders them."""

from __future__ import annotations

from kumo.api.routing import Call
from kumo.identity.core import DEFAULT_DOMAIN_ID
from kumo.identity.http.common import isotime, link
from kumo.identity.models import ApplicationCredential, Domain, Group, Project, Role, User


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
            "project_id": c.project_id, "system": c.system, "expires_at": isotime(c.expires_at),
            "unrestricted": c.unrestricted, "roles": [{"id": r.id, "name": r.name, "domain_id": r.domain_id or None}
                                                      for r in roles],
            "access_rules": access_rules,
            "links": link(call, f"users/{c.user_id}/application_credentials/{c.id}")}


def domain_ref(d: Domain | None, domain_id: str = DEFAULT_DOMAIN_ID) -> dict:
    return {"id": d.id, "name": d.name} if d else {"id": domain_id, "name": None}
