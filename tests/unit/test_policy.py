"""The policy check: predicates, combinators, and Keystone's defaults as Kumo names them."""

from __future__ import annotations

import pytest

from kumo import policy as p
from kumo.context import ANONYMOUS, Context
from kumo.errors import Forbidden, Unauthorized
from kumo.identity.policies import policy

USER = "u1"


def ctx(roles=(), **kw) -> Context:
    return Context(user_id=kw.pop("user_id", USER), roles=frozenset(roles), **kw)


ADMIN = ctx({"admin", "member", "reader"}, project_id="pa", project_domain_id="default")
MEMBER = ctx({"member", "reader"}, project_id="p1", project_domain_id="default")
READER = ctx({"reader"}, project_id="p1", project_domain_id="default")
DOMAIN_READER = ctx({"reader"}, domain_id="d1")
SYSTEM_READER = ctx({"reader"}, system=True)
NOBODY = ctx()  # authenticated, unscoped, no roles


def test_combinators():
    yes, no = (lambda c, t: True), (lambda c, t: False)
    assert p.any_of(no, yes)(NOBODY, {}) and not p.any_of(no, no)(NOBODY, {})
    assert p.all_of(yes, yes)(NOBODY, {}) and not p.all_of(yes, no)(NOBODY, {})
    assert not p.any_of()(NOBODY, {}) and p.all_of()(NOBODY, {})


def test_predicates():
    assert p.role("member")(MEMBER, {}) and not p.role("admin")(MEMBER, {})
    assert p.owner("user_id")(NOBODY, {"user_id": USER}) and not p.owner("user_id")(NOBODY, {"user_id": "u2"})
    assert not p.owner("user_id")(ANONYMOUS, {"user_id": None})  # no user never owns anything
    assert p.in_project("id")(MEMBER, {"id": "p1"}) and not p.in_project("id")(MEMBER, {"id": "p2"})
    assert not p.in_project("id")(DOMAIN_READER, {"id": None})
    assert p.in_domain()(DOMAIN_READER, {"domain_id": "d1"}) and not p.in_domain()(MEMBER, {"domain_id": None})
    assert p.system_scoped(SYSTEM_READER, {}) and not p.system_scoped(ADMIN, {})
    assert p.SYSTEM_READER(SYSTEM_READER, {}) and not p.SYSTEM_READER(READER, {})
    assert p.project_member()(MEMBER, {"project_id": "p1"}) and not p.project_member()(READER, {"project_id": "p1"})
    assert p.domain_reader()(DOMAIN_READER, {"domain_id": "d1"}) and not p.domain_reader()(DOMAIN_READER, {})


def test_enforce_says_401_for_nobody_and_403_naming_the_rule():
    with pytest.raises(Unauthorized):
        policy.enforce(ANONYMOUS, "identity:get_auth_catalog")
    with pytest.raises(Forbidden) as denied:
        policy.enforce(MEMBER, "identity:create_user", {"domain_id": "default"})
    assert denied.value.message == "You are not authorized to perform the requested action: identity:create_user."
    policy.enforce(ADMIN, "identity:create_user", {"domain_id": "default"})


OWN_ONLY = {"identity:create_application_credential"}  # a user's own, even for an admin (as in Keystone)


def test_the_admin_role_in_any_scope_may_do_everything():
    for admin in (ADMIN, ctx({"admin"}, domain_id="d9"), ctx({"admin"}, system=True)):
        for action in set(policy.rules) - OWN_ONLY:
            assert policy.check(admin, action, {}), action
        for action in OWN_ONLY:
            assert not policy.check(admin, action, {"user_id": "someone-else"})
            assert policy.check(admin, action, {"user_id": USER})


def test_without_roles_nothing_is_written():
    writes = [a for a in policy.rules if any(w in a for w in ("create", "update", "delete", "manage", "add_",
                                                              "remove_", "revoke_grant"))]
    assert len(writes) > 20
    for who in (NOBODY, MEMBER, READER, DOMAIN_READER, SYSTEM_READER):
        for action in set(writes) - OWN_ONLY:
            assert not policy.check(who, action, {"domain_id": "d1", "id": "p1", "user_id": "someone-else"}), \
                (who, action)


def test_projects():
    mine, other = {"id": "p1", "domain_id": "default"}, {"id": "p2", "domain_id": "default"}
    assert policy.check(MEMBER, "identity:get_project", mine)
    assert not policy.check(MEMBER, "identity:get_project", other)
    assert policy.check(READER, "identity:get_project", mine)
    assert not policy.check(MEMBER, "identity:list_projects", {"domain_id": None})
    assert policy.check(DOMAIN_READER, "identity:list_projects", {"domain_id": "d1"})
    assert not policy.check(DOMAIN_READER, "identity:list_projects", {"domain_id": "default"})
    assert policy.check(SYSTEM_READER, "identity:get_project", other)
    assert not policy.check(NOBODY, "identity:get_project", mine)


def test_users():
    assert policy.check(NOBODY, "identity:get_user", {"id": USER, "domain_id": "default"})  # oneself
    assert not policy.check(MEMBER, "identity:get_user", {"id": "u2", "domain_id": "default"})
    assert policy.check(DOMAIN_READER, "identity:get_user", {"id": "u2", "domain_id": "d1"})
    assert not policy.check(DOMAIN_READER, "identity:get_user", {"id": "u2", "domain_id": "d2"})
    assert policy.check(NOBODY, "identity:list_user_projects", {"user_id": USER, "domain_id": "default"})
    assert not policy.check(MEMBER, "identity:list_user_projects", {"user_id": "u2", "domain_id": "default"})
    assert not policy.check(MEMBER, "identity:list_users", {"domain_id": None})
    assert policy.check(SYSTEM_READER, "identity:list_users", {"domain_id": None})


def test_tokens():
    assert policy.check(NOBODY, "identity:validate_token", {"token_user_id": USER})
    assert not policy.check(MEMBER, "identity:validate_token", {"token_user_id": "u2"})
    assert policy.check(SYSTEM_READER, "identity:validate_token", {"token_user_id": "u2"})
    assert policy.check(NOBODY, "identity:revoke_token", {"token_user_id": USER})
    assert not policy.check(SYSTEM_READER, "identity:revoke_token", {"token_user_id": "u2"})
    for action in ("get_auth_catalog", "get_auth_projects", "get_auth_domains", "get_auth_system"):
        assert policy.check(NOBODY, f"identity:{action}", {})


def test_domains():
    assert policy.check(DOMAIN_READER, "identity:get_domain", {"id": "d1"})
    assert not policy.check(DOMAIN_READER, "identity:get_domain", {"id": "default"})
    assert policy.check(MEMBER, "identity:get_domain", {"id": "default"})  # its project's domain
    assert not policy.check(MEMBER, "identity:get_domain", {"id": "d1"})
    assert not policy.check(DOMAIN_READER, "identity:list_domains", {})
    assert policy.check(SYSTEM_READER, "identity:list_domains", {})


def test_unknown_actions_are_a_programming_error():
    with pytest.raises(KeyError):
        policy.check(ADMIN, "identity:no_such_action")
