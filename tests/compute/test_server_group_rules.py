"""The scheduling decision of server groups, at the service level: the 2.64 rule ``max_server_per_host``
(the API reaches it once Kumo's maximum microversion does) lets that many anti-affinity members on the one
host; a request's servers fit together or not at all; failed members without a host free their place."""

from __future__ import annotations

import pytest

from kumo.compute import limits, server_groups
from kumo.compute.models import Server
from kumo.context import Context
from kumo.db import (
    Database,
    models,  # noqa: F401  (every table)
)
from kumo.errors import BadRequest, Forbidden

CTX = Context(user_id="u1", project_id="p1", roles=frozenset({"member"}))


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'kumo.db'}")
    database.upgrade()
    yield database
    database.dispose()


def _servers(s, *names: str) -> list[Server]:
    rows = [Server(id=n, name=n, project_id="p1", user_id="u1", flavor_id="1") for n in names]
    s.add_all(rows)
    s.flush()
    return rows


def test_max_server_per_host_and_whole_requests(db):
    with db.session() as s:
        group = server_groups.create(s, CTX, name="g", policy="anti-affinity", rules={"max_server_per_host": "2"})
        assert group.rules == {"max_server_per_host": 2}
        a, b = _servers(s, "a", "b")
        server_groups.add_members(s, CTX, group.id, [a])
        pair = _servers(s, "c", "d")
        server_groups.add_members(s, CTX, group.id, pair)  # 1 + 2 > 2: neither of the request's servers fits
        server_groups.add_members(s, CTX, group.id, [b])
        assert [server_groups.unplaced(s, x) for x in "abcd"] == [False, False, True, True]
        assert server_groups.members(s, [group.id])[group.id] == ["a", "c", "d", "b"]
        e, = _servers(s, "e")
        server_groups.add_members(s, CTX, group.id, [e])  # a and b hold both places
        assert server_groups.unplaced(s, "e")
        a.vm_state, a.host = "error", None  # a failed before it got a host: its place is free again
        f, = _servers(s, "f")
        server_groups.add_members(s, CTX, group.id, [f])
        assert not server_groups.unplaced(s, "f")


def test_rules_only_for_anti_affinity_and_the_group_quota(db):
    with db.session() as s:
        with pytest.raises(BadRequest, match="Only anti-affinity policy supports rules."):
            server_groups.create(s, CTX, name="g", policy="affinity", rules={"max_server_per_host": 2})
        soft = server_groups.create(s, CTX, name="g", policy="soft-anti-affinity")
        many = _servers(s, *(f"s{i}" for i in range(10)))
        server_groups.add_members(s, CTX, soft.id, many)  # soft policies always fit
        assert not any(server_groups.unplaced(s, x.id) for x in many)
        with pytest.raises(Forbidden, match="too many servers in group"):
            server_groups.add_members(s, CTX, soft.id, _servers(s, "s10"))  # default quota: 10 members
        with pytest.raises(BadRequest, match="could not be found"):  # another project's group
            server_groups.add_members(s, Context(user_id="u2", project_id="p2", roles=frozenset({"member"})),
                                      soft.id, _servers(s, "s11"))
        assert limits.in_use(s, "p1")["server_groups"] == 1
        server_groups.delete(s, soft)
        assert limits.in_use(s, "p1")["server_groups"] == 0 and not server_groups.unplaced(s, "s1")
