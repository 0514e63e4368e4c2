"""First start: the default domain, the admin and demo projects and users, roles, the region."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from kumo.identity import assignments, catalog, domains, projects, roles, users
from kumo.identity.core import DEFAULT_DOMAIN_ID, SYSTEM_ALL, Identity
from kumo.identity.models import Domain

ROLE_NAMES = ("admin", "member", "reader", "manager", "service")
IMPLIED = (("admin", "manager"), ("manager", "member"), ("member", "reader"))


@dataclass
class Credentials:
    admin_password: str
    demo_password: str


def needed(db: Session) -> bool:
    return db.get(Domain, DEFAULT_DOMAIN_ID) is None


def run(identity: Identity, db: Session, admin_password: str | None = None,
        demo_password: str | None = None) -> Credentials:
    """Create the initial identity data; run once, on an empty database."""
    creds = Credentials(admin_password or secrets.token_urlsafe(18), demo_password or secrets.token_urlsafe(18))
    domains.create(db, id=DEFAULT_DOMAIN_ID, name="Default", description="The default domain")
    role_ids = {name: roles.create(db, name=name).id for name in ROLE_NAMES}
    for prior, implied in IMPLIED:
        roles.imply(db, role_ids[prior], role_ids[implied])
    admin_project = projects.create(db, name="admin", domain_id=DEFAULT_DOMAIN_ID,
                                    description="Bootstrap project for initializing the cloud.")
    demo_project = projects.create(db, name="demo", domain_id=DEFAULT_DOMAIN_ID, description="A member's project")
    # random passwords cannot be made to fit an arbitrary password_regex: the complexity rule is not applied
    admin = users.create(identity, db, name="admin", domain_id=DEFAULT_DOMAIN_ID, password=creds.admin_password,
                         default_project_id=admin_project.id, check_rules=False)
    demo = users.create(identity, db, name="demo", domain_id=DEFAULT_DOMAIN_ID, password=creds.demo_password,
                        default_project_id=demo_project.id, check_rules=False)
    assignments.grant(db, "user", admin.id, "project", admin_project.id, role_ids["admin"])
    assignments.grant(db, "user", admin.id, "domain", DEFAULT_DOMAIN_ID, role_ids["admin"])
    assignments.grant(db, "user", admin.id, "system", SYSTEM_ALL, role_ids["admin"])
    assignments.grant(db, "user", demo.id, "project", demo_project.id, role_ids["member"])
    catalog.ensure_region(db, identity.settings.region)
    return creds
