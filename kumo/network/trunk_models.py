"""Trunk tables (Neutron's ``trunk`` extension): a trunk on a parent port, and its subports.

A port is the parent of at most one trunk (``port_id`` unique) and a subport of at most one trunk (the
subport's primary key); a (segmentation type, id) pair appears once per trunk."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kumo.db import new_id
from kumo.network.models import Base, ID, Standard


class Trunk(Standard, Base):
    __tablename__ = "network_trunks"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    name: Mapped[str] = mapped_column(sa.String(255), default="")
    admin_state_up: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="DOWN")
    port_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("network_ports.id", ondelete="RESTRICT"), unique=True)


class SubPort(Base):
    __tablename__ = "network_trunk_subports"
    __table_args__ = (sa.UniqueConstraint("trunk_id", "segmentation_type", "segmentation_id"),)
    port_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("network_ports.id", ondelete="RESTRICT"),
                                         primary_key=True)
    trunk_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("network_trunks.id", ondelete="CASCADE"), index=True)
    segmentation_type: Mapped[str] = mapped_column(sa.String(16))
    segmentation_id: Mapped[int]
