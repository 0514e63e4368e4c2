"""Neutron v2.0 over HTTP, mounted at ``/network``."""

from kumo.api.service import ServiceInfo
from kumo.network.http import (floating_ips, networks, ports, quotas, routers, security_groups,  # noqa: F401
                               subnetpools, subnets, tags, versions)
from kumo.network.http import sfc  # noqa: F401,E402
from kumo.network.http import trunks  # noqa: F401,E402
from kumo.network.http.common import router


def on_start(cloud) -> None:
    from kumo.network import bootstrap

    with cloud.db.session() as db:
        bootstrap.run(db, cloud.settings.public_cidr)
    if cloud.backend.name == "local":  # the data plane: an agent reconciling this host's kernel
        from kumo.network import agent
        agent.start(cloud)


def counts(db) -> dict:
    import sqlalchemy as sa

    from kumo.network import models as m
    return {name: db.scalar(sa.select(sa.func.count()).select_from(model))
            for name, model in (("networks", m.Network), ("ports", m.Port), ("routers", m.Router),
                                ("floating_ips", m.FloatingIP))}


SERVICE = ServiceInfo.of(__name__, router, on_start=on_start, counts=counts)
