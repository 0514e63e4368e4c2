"""Who is calling: the validated token, as seen by policy and service logic."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Context:
    user_id: str | None = None
    user_name: str | None = None
    user_domain_id: str | None = None
    project_id: str | None = None
    project_name: str | None = None
    project_domain_id: str | None = None
    domain_id: str | None = None  # domain-scoped token
    system: bool = False  # system-scoped token (system: all)
    roles: frozenset[str] = field(default_factory=frozenset)  # effective role names, implied roles included
    role_ids: frozenset[str] = field(default_factory=frozenset)
    audit_ids: tuple[str, ...] = ()
    app_cred_id: str | None = None
    request_id: str = ""
    token: dict | None = field(default=None, repr=False, compare=False)  # rendered token body

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def is_admin(self) -> bool:
        """Cloud admin: the admin role in any scope, as Keystone's legacy ``admin_required`` allows."""
        return "admin" in self.roles

    @property
    def scope_project(self) -> str | None:
        return self.project_id


ANONYMOUS = Context()
