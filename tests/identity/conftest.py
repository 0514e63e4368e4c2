"""Identity test helpers: throwaway projects, users and roles made with openstacksdk, and clients acting as them."""

from __future__ import annotations

import uuid

import httpx
import openstack
import pytest


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Keystone:
    """Makes identity resources as the admin through openstacksdk, and removes them afterwards."""

    def __init__(self, cloud, conn, roles: dict):
        self.cloud = cloud
        self.conn = conn
        self._made: list[tuple[str, str]] = []
        self._roles = roles

    # -- resources ------------------------------------------------------------------------------
    def project(self, **attrs):
        attrs.setdefault("name", unique("proj"))
        attrs.setdefault("domain_id", "default")
        project = self.conn.identity.create_project(**attrs)
        self._made.append(("project", project.id))
        return project

    def domain(self, **attrs):
        attrs.setdefault("name", unique("dom"))
        domain = self.conn.identity.create_domain(**attrs)
        self._made.append(("domain", domain.id))
        return domain

    def user(self, password: str | None = None, **attrs):
        attrs.setdefault("name", unique("user"))
        attrs.setdefault("domain_id", "default")
        attrs["password"] = password or unique("pw")
        user = self.conn.identity.create_user(**attrs)
        user.password = attrs["password"]  # remembered for logging in as the user
        self._made.append(("user", user.id))
        return user

    def role(self, name: str):
        """A role by name; one that does not exist yet is made for this test only."""
        if name not in self._roles:
            role = self.conn.identity.create_role(name=name)
            self._made.append(("role", role.id))
            return role
        return self._roles[name]

    def grant(self, user, role: str, project=None, domain=None) -> None:
        if project is not None:
            self.conn.identity.assign_project_role_to_user(project, user, self.role(role))
        else:
            self.conn.identity.assign_domain_role_to_user(domain, user, self.role(role))

    def member(self, role: str = "member", project=None, password: str | None = None):
        """A new user holding ``role`` on ``project`` (a new project when none is given)."""
        project = project or self.project()
        user = self.user(password=password, default_project_id=project.id)
        self.grant(user, role, project=project)
        return user, project

    # -- acting as someone ----------------------------------------------------------------------
    def connect(self, user, password: str | None = None, project=None, domain=None, system: bool = False):
        """An openstacksdk connection authenticated as ``user`` with the given scope (unscoped if none)."""
        scope = {}
        if project is not None:
            scope = {"project_id": project.id}
        elif domain is not None:
            scope = {"domain_id": domain.id if hasattr(domain, "id") else domain}
        elif system:
            scope = {"system_scope": "all"}
        return openstack.connect(auth_url=self.cloud.identity_url, user_id=user.id,
                                 password=password or user.password, region_name="RegionOne",
                                 load_yaml_config=False, load_envvars=False, **scope)

    def token(self, user, password: str | None = None, scope: dict | None = None) -> httpx.Response:
        """``POST /v3/auth/tokens`` as ``user`` (password by id); the raw response."""
        auth = {"identity": {"methods": ["password"],
                             "password": {"user": {"id": user.id, "password": password or user.password}}}}
        if scope is not None:
            auth["scope"] = scope
        with self.cloud.http() as client:
            return client.post("/identity/v3/auth/tokens", json={"auth": auth})

    def token_id(self, user, password: str | None = None, scope: dict | None = None) -> str:
        resp = self.token(user, password, scope)
        assert resp.status_code == 201, resp.text
        return resp.headers["X-Subject-Token"]

    def cli(self, *commands, user=None, password: str | None = None, project=None) -> list:
        """Several stock ``openstack`` commands in one CLI process (``cloud.openstack_batch``), as the admin
        or as ``user`` in ``project``."""
        env = {}
        if user is not None:
            assert project is not None, "the CLI acts in a project"
            env = dict(OS_USERNAME=user.name, OS_USER_DOMAIN_ID=user.domain_id,
                       OS_PASSWORD=password or user.password, OS_PROJECT_ID=project.id)
        return self.cloud.openstack_batch(*commands, env=env)

    def cli_ok(self, *commands, **kw) -> list:
        """``cli``, asserting that no command wrote an error; the parsed JSON output of each."""
        results = self.cli(*commands, **kw)
        for command, result in zip(commands, results):
            assert not result.err, f"openstack {command}: {result.err}"
        return [result.data for result in results]

    def cleanup(self) -> None:
        for kind, ident in reversed(self._made):
            try:
                if kind == "domain":
                    self.conn.identity.update_domain(ident, is_enabled=False)
                getattr(self.conn.identity, f"delete_{kind}")(ident, ignore_missing=True)
            except openstack.exceptions.SDKException:
                pass


@pytest.fixture(scope="session")
def admin_sdk(cloud):
    """One admin openstacksdk connection per test session (connecting costs half a second)."""
    conn = cloud.sdk()
    return conn, {r.name: r for r in conn.identity.roles()}


@pytest.fixture
def keystone(cloud, admin_sdk):
    conn, roles = admin_sdk
    helper = Keystone(cloud, conn, roles)
    yield helper
    helper.cleanup()
