"""Server groups (Nova's os-server-groups): a policy for where their members may run, and the scheduling
decision for each new member.

Kumo has one compute host, so the scheduler's question is only "does the new member fit here?":
affinity and both soft policies always do; anti-affinity allows ``max_server_per_host`` members (1 unless
a 2.64 rule says more) that the scheduler placed and that did not fail before getting a host. A member
that does not fit is still a member (Nova adds members before it schedules) and its build fails with
Nova's fault "No valid host was found." — decided here, in the creating transaction, so two concurrent
boots into one group cannot both take the last place.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo import quotas
from kumo.compute import limits
from kumo.compute.models import Server, ServerGroup, ServerGroupMember
from kumo.context import Context
from kumo.errors import BadRequest, Forbidden, NotFound

POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")
NO_VALID_HOST = "No valid host was found. There are not enough hosts available."
_QUOTA = "compute.server_groups"


def create(db: Session, ctx: Context, *, name: str, policy: str, rules: dict | None = None) -> ServerGroup:
    if not ctx.project_id:
        raise BadRequest("A project-scoped token is needed to create a server group.")
    if policy not in POLICIES:
        raise BadRequest(f"Invalid input for field/attribute policy. Value: {policy}.")
    rules = dict(rules or {})
    if rules and policy != "anti-affinity":
        raise BadRequest("Only anti-affinity policy supports rules.")
    if "max_server_per_host" in rules:
        rules["max_server_per_host"] = int(rules["max_server_per_host"])
    try:
        quotas.reserve(db, ctx.project_id, {_QUOTA: 1}, limits.STORE_DEFAULTS)
    except quotas.OverQuota:
        raise Forbidden("Quota exceeded, too many server groups.") from None
    group = ServerGroup(id=str(uuid.uuid4()), name=name, project_id=ctx.project_id, user_id=ctx.user_id or "",
                        policy=policy, rules=rules)
    db.add(group)
    db.flush()
    return group


def get(db: Session, ctx: Context, group_id: str, *, for_update: bool = False) -> ServerGroup:
    """The group, or 404 — also when it is another project's (but for an admin)."""
    group = db.get(ServerGroup, group_id, with_for_update=for_update) if len(group_id) <= 64 else None
    if group is None or not (ctx.is_admin or group.project_id == ctx.project_id):
        raise NotFound(f"Instance group {group_id} could not be found.")
    return group


def list_(db: Session, project_id: str | None, *, limit: int | None = None, offset: int = 0) -> list[ServerGroup]:
    query = sa.select(ServerGroup).order_by(ServerGroup.created_at, ServerGroup.id).offset(offset)
    if project_id is not None:
        query = query.where(ServerGroup.project_id == project_id)
    if limit is not None:
        query = query.limit(limit)
    return list(db.scalars(query))


def members(db: Session, group_ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {gid: [] for gid in group_ids}
    if group_ids:
        for group_id, server_id in db.execute(
                sa.select(ServerGroupMember.group_id, ServerGroupMember.server_id)
                .where(ServerGroupMember.group_id.in_(group_ids))
                .order_by(ServerGroupMember.created_at, ServerGroupMember.server_id)):
            found[group_id].append(server_id)
    return found


def of_server(db: Session, server_id: str) -> list[str]:
    """The group the server is in (2.71 shows it), as a list of at most one id."""
    return list(db.scalars(sa.select(ServerGroupMember.group_id).where(ServerGroupMember.server_id == server_id)))


def delete(db: Session, group: ServerGroup) -> None:
    """Members stay (as servers), out of the group."""
    db.execute(sa.delete(ServerGroupMember).where(ServerGroupMember.group_id == group.id))
    quotas.release(db, group.project_id, {_QUOTA: 1})
    db.delete(group)
    db.flush()


def add_members(db: Session, ctx: Context, group_id: str, new: list[Server]) -> None:
    """Put the new servers (one request's) in the group and schedule them against its policy: 400 for a
    group the caller cannot see, 403 over ``server_group_members``; those that do not fit are marked."""
    try:
        group = get(db, ctx, group_id, for_update=True)  # the lock orders concurrent boots into the group
    except NotFound as exc:
        raise BadRequest(exc.message) from None
    rows = list(db.execute(sa.select(ServerGroupMember.placed, Server.vm_state, Server.host)
                           .join(Server, Server.id == ServerGroupMember.server_id)
                           .where(ServerGroupMember.group_id == group.id)))
    allowed = quotas.limit(db, group.project_id, "compute.server_group_members", limits.STORE_DEFAULTS)
    if allowed != quotas.UNLIMITED and len(rows) + len(new) > allowed:
        raise Forbidden("Quota exceeded, too many servers in group")
    fits = True
    if group.policy == "anti-affinity":  # one host: at most max_server_per_host members on it
        here = sum(1 for placed, vm_state, host in rows if placed and (vm_state != "error" or host))
        fits = here + len(new) <= int((group.rules or {}).get("max_server_per_host", 1))
    for server in new:  # as Nova's scheduler, all of one request's servers or none
        db.add(ServerGroupMember(server_id=server.id, group_id=group.id, placed=fits))
    db.flush()


def unplaced(db: Session, server_id: str) -> bool:
    """Whether the scheduler found no host for this server within its group's policy."""
    return db.scalar(sa.select(ServerGroupMember.placed).where(ServerGroupMember.server_id == server_id)) is False
