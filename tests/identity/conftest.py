"""Identity test helpers: throwaway projects, users and roles made with openstacksdk, and clients acting as them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import NamedTuple

import httpx
import openstack
import pytest


BIN = Path(sys.executable).parent
MARK = "==kumo-tests-end-of-command=="


class CliResult(NamedTuple):
    out: str
    err: str
    data: object  # the JSON output, parsed, when the command asked for ``-f json``


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

    def cli(self, *commands, user=None, password: str | None = None, project=None) -> list["CliResult"]:
        """Run several stock ``openstack`` commands in one CLI process (its interactive mode reads them from
        stdin): starting the CLI costs over a second, a command a few milliseconds. As the admin, or as
        ``user`` in ``project``. Each command is a string or a list of arguments (none blank or with blanks);
        the result of each is its stdout, its stderr, and its JSON output parsed (``-f json``)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(OS_CLIENT_CONFIG_FILE=str(self.cloud.server.clouds_file), OS_CLOUD="kumo-admin",
                   PYTHONUNBUFFERED="1")
        if user is not None:  # given in the environment: in interactive mode, arguments would be read as commands
            assert project is not None, "the CLI acts in a project"
            env.update(OS_USERNAME=user.name, OS_USER_DOMAIN_ID=user.domain_id,
                       OS_PASSWORD=password or user.password, OS_PROJECT_ID=project.id)
        commands = [c.split() if isinstance(c, str) else list(c) for c in commands]
        # the interactive mode splits lines at blanks, quotes or not
        assert not any(not arg or any(ch.isspace() for ch in arg) for c in commands for arg in c), commands
        mark = f"!sh -c 'echo {MARK} 1>&2; echo {MARK}'"
        script = "".join(" ".join(c) + "\n" + mark + "\n" for c in commands)
        proc = subprocess.run([str(BIN / "openstack")], input=script, env=env, capture_output=True,
                              text=True, timeout=120)
        outs, errs = proc.stdout.split(MARK + "\n"), proc.stderr.split(MARK + "\n")
        assert len(outs) == len(errs) == len(commands) + 1, (proc.stdout, proc.stderr)
        results = []
        for command, out, err in zip(commands, outs, errs):
            results.append(CliResult(out, err.strip(), json.loads(out) if "json" in command and out.strip() else None))
        return results

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
