"""Keystone v3 over HTTP, mounted at ``/identity``."""

from kumo.api.service import ServiceInfo
from kumo.identity.http import auth, domains, projects, roles, users, versions  # noqa: F401
from kumo.identity.http import app_credentials  # noqa: F401
from kumo.identity.http import assignments, endpoints, groups, regions, services  # noqa: F401
from kumo.identity.http.common import router


def counts(db) -> dict:
    import sqlalchemy as sa

    from kumo.identity import models as m
    return {name: db.scalar(sa.select(sa.func.count()).select_from(model))
            for name, model in (("domains", m.Domain), ("projects", m.Project), ("users", m.User),
                                ("groups", m.Group), ("roles", m.Role))}


def on_start(cloud) -> None:
    """Drop revocation events no live token can match: now, then hourly."""
    from kumo.identity import revocations

    revocations.prune_every(cloud)


SERVICE = ServiceInfo.of(__name__, router, counts=counts, on_start=on_start)
