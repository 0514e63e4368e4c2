"""networking-sfc tables: flow classifiers, port pairs, port pair groups, port chains, service graphs.

Memberships are ordered id lists (JSON) on the owning resource, as the API shows them; the rules that
keep them consistent (a pair in one group, a classifier in one chain, …) live in the service modules."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kumo.db import new_id
from kumo.network.models import Base

ID = sa.String(64)


def port_ref() -> sa.ForeignKey:
    """A port an SFC resource steers through: it cannot be deleted while referenced (409)."""
    return sa.ForeignKey("network_ports.id", ondelete="RESTRICT")


class Named:
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    name: Mapped[str] = mapped_column(sa.String(255), default="")
    description: Mapped[str] = mapped_column(sa.String(255), default="")


class FlowClassifier(Named, Base):
    __tablename__ = "sfc_flow_classifiers"
    ethertype: Mapped[str] = mapped_column(sa.String(8), default="IPv4")
    protocol: Mapped[str | None] = mapped_column(sa.String(8))
    source_port_range_min: Mapped[int | None]
    source_port_range_max: Mapped[int | None]
    destination_port_range_min: Mapped[int | None]
    destination_port_range_max: Mapped[int | None]
    source_ip_prefix: Mapped[str | None] = mapped_column(sa.String(64))
    destination_ip_prefix: Mapped[str | None] = mapped_column(sa.String(64))
    logical_source_port: Mapped[str | None] = mapped_column(ID, port_ref(), index=True)
    logical_destination_port: Mapped[str | None] = mapped_column(ID, port_ref(), index=True)
    l7_parameters: Mapped[dict] = mapped_column(default=dict)


class PortPair(Named, Base):
    __tablename__ = "sfc_port_pairs"
    __table_args__ = (sa.UniqueConstraint("ingress", "egress"),)
    ingress: Mapped[str] = mapped_column(ID, port_ref(), index=True)
    egress: Mapped[str] = mapped_column(ID, port_ref(), index=True)
    service_function_parameters: Mapped[dict] = mapped_column(default=dict)


class PortPairGroup(Named, Base):
    __tablename__ = "sfc_port_pair_groups"
    group_id: Mapped[int] = mapped_column(unique=True)
    tap_enabled: Mapped[bool] = mapped_column(default=False)
    port_pairs: Mapped[list] = mapped_column(default=list)
    port_pair_group_parameters: Mapped[dict] = mapped_column(default=dict)


class PortChain(Named, Base):
    __tablename__ = "sfc_port_chains"
    chain_id: Mapped[int] = mapped_column(unique=True)
    port_pair_groups: Mapped[list] = mapped_column(default=list)
    flow_classifiers: Mapped[list] = mapped_column(default=list)
    chain_parameters: Mapped[dict] = mapped_column(default=dict)


class ServiceGraph(Named, Base):
    __tablename__ = "sfc_service_graphs"
    port_chains: Mapped[dict] = mapped_column(default=dict)
