"""The one policy check.

Rules are small predicates over the caller (``Context``) and a target dict
(``{"user_id": …, "domain_id": …, "project_id": …}``), combined with ``any_of``
and ``all_of``. Each service names its actions in its own ``policies`` module,
following its OpenStack defaults; handlers call ``enforce`` before acting.
"""

from __future__ import annotations

from typing import Callable

from kumo.context import Context
from kumo.errors import Forbidden, Unauthorized

Rule = Callable[[Context, dict], bool]


def any_of(*rules: Rule) -> Rule:
    return lambda ctx, target: any(rule(ctx, target) for rule in rules)


def all_of(*rules: Rule) -> Rule:
    return lambda ctx, target: all(rule(ctx, target) for rule in rules)


def role(name: str) -> Rule:
    return lambda ctx, target: name in ctx.roles


def authenticated(ctx: Context, target: dict) -> bool:
    return ctx.authenticated


def system_scoped(ctx: Context, target: dict) -> bool:
    return ctx.system


def admin(ctx: Context, target: dict) -> bool:
    return ctx.is_admin


def owner(key: str = "user_id") -> Rule:
    """The caller is the user the target belongs to."""
    return lambda ctx, target: ctx.user_id is not None and target.get(key) == ctx.user_id


def in_project(key: str = "project_id") -> Rule:
    """The caller's token is scoped to the target's project."""
    return lambda ctx, target: ctx.project_id is not None and target.get(key) == ctx.project_id


def in_domain(key: str = "domain_id") -> Rule:
    """The caller's token is scoped to the target's domain."""
    return lambda ctx, target: ctx.domain_id is not None and target.get(key) == ctx.domain_id


SYSTEM_READER = all_of(role("reader"), system_scoped)
ADMIN_OR_SYSTEM_READER = any_of(admin, SYSTEM_READER)


def domain_reader(key: str = "domain_id") -> Rule:
    return all_of(role("reader"), in_domain(key))


def project_reader(key: str = "project_id") -> Rule:
    return all_of(role("reader"), in_project(key))


def project_member(key: str = "project_id") -> Rule:
    return all_of(role("member"), in_project(key))


class Policy:
    def __init__(self, rules: dict[str, Rule]):
        self.rules = rules

    def check(self, ctx: Context, action: str, target: dict | None = None) -> bool:
        return self.rules[action](ctx, target or {})

    def enforce(self, ctx: Context, action: str, target: dict | None = None) -> None:
        if not ctx.authenticated:
            raise Unauthorized()
        if not self.check(ctx, action, target):
            raise Forbidden(f"You are not authorized to perform the requested action: {action}.")
