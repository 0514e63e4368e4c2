"""First start: the external network ``public`` that routers take their gateways from."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.identity.models import Project
from kumo.network import networks, subnets
from kumo.network.models import Network

PUBLIC_CIDR = "172.24.4.0/24"  # lives only inside the data plane's namespaces


def run(db: Session, cidr: str = PUBLIC_CIDR) -> None:
    if db.scalar(sa.select(Network.id).where(Network.external.is_(True))):
        return
    admin = db.scalars(sa.select(Project).where(Project.name == "admin", Project.domain_id == "default")).first()
    owner = admin.id if admin else ""
    ctx = Context(user_id="kumo", project_id=owner, roles=frozenset({"admin"}))
    network = networks.create(db, project_id=owner, name="public", external=True, network_type="flat",
                              physical_network="public", description="The outside world, as Kumo sees it")
    subnets.create(db, ctx, network, project_id=owner, ip_version=4, cidr=cidr, name="public-subnet",
                   enable_dhcp=False)
