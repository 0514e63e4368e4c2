"""Networking tables."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kumo.db import model_base, new_id, utcnow

Base = model_base("NetworkModel")

ID = sa.String(64)


class Standard:
    """Neutron's standard attributes: description, tags, timestamps, revision number."""
    description: Mapped[str] = mapped_column(sa.String(255), default="")
    tags: Mapped[list] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    revision_number: Mapped[int] = mapped_column(default=0)


class Network(Standard, Base):
    __tablename__ = "network_networks"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    name: Mapped[str] = mapped_column(sa.String(255), default="")
    admin_state_up: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="ACTIVE")
    shared: Mapped[bool] = mapped_column(default=False)
    external: Mapped[bool] = mapped_column(default=False)
    is_default: Mapped[bool] = mapped_column(default=False)
    mtu: Mapped[int] = mapped_column(default=1450)
    port_security_enabled: Mapped[bool] = mapped_column(default=True)
    network_type: Mapped[str] = mapped_column(sa.String(16), default="vxlan")
    physical_network: Mapped[str | None] = mapped_column(sa.String(64))
    segmentation_id: Mapped[int | None]
    availability_zone_hints: Mapped[list] = mapped_column(default=list)


class Segment(Base):
    """A segmentation id in use: unique per type and physical network, so two networks never share one."""
    __tablename__ = "network_segments"
    __table_args__ = (sa.UniqueConstraint("network_type", "physical_network", "segmentation_id"),)
    network_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("network_networks.id", ondelete="CASCADE"),
                                            primary_key=True)
    network_type: Mapped[str] = mapped_column(sa.String(16))
    physical_network: Mapped[str] = mapped_column(sa.String(64), default="")
    segmentation_id: Mapped[int]


class SubnetPool(Standard, Base):
    __tablename__ = "network_subnetpools"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    name: Mapped[str] = mapped_column(sa.String(255), default="")
    ip_version: Mapped[int]
    prefixes: Mapped[list] = mapped_column(default=list)
    default_prefixlen: Mapped[int]
    min_prefixlen: Mapped[int]
    max_prefixlen: Mapped[int]
    shared: Mapped[bool] = mapped_column(default=False)
    is_default: Mapped[bool] = mapped_column(default=False)
    default_quota: Mapped[int | None]
    address_scope_id: Mapped[str | None] = mapped_column(ID)


class Subnet(Standard, Base):
    __tablename__ = "network_subnets"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    network_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("network_networks.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(255), default="")
    ip_version: Mapped[int]
    cidr: Mapped[str] = mapped_column(sa.String(64))
    gateway_ip: Mapped[str | None] = mapped_column(sa.String(64))
    enable_dhcp: Mapped[bool] = mapped_column(default=True)
    ipv6_ra_mode: Mapped[str | None] = mapped_column(sa.String(32))
    ipv6_address_mode: Mapped[str | None] = mapped_column(sa.String(32))
    subnetpool_id: Mapped[str | None] = mapped_column(ID, sa.ForeignKey("network_subnetpools.id"))
    dns_nameservers: Mapped[list] = mapped_column(default=list)
    host_routes: Mapped[list] = mapped_column(default=list)
    allocation_pools: Mapped[list] = mapped_column(default=list)
    service_types: Mapped[list] = mapped_column(default=list)


class Port(Standard, Base):
    __tablename__ = "network_ports"
    __table_args__ = (sa.UniqueConstraint("network_id", "mac_address"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    network_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("network_networks.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(255), default="")
    mac_address: Mapped[str] = mapped_column(sa.String(32))
    admin_state_up: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="DOWN")
    device_id: Mapped[str] = mapped_column(sa.String(255), default="", index=True)
    device_owner: Mapped[str] = mapped_column(sa.String(255), default="", index=True)
    port_security_enabled: Mapped[bool] = mapped_column(default=True)
    security_group_ids: Mapped[list] = mapped_column(default=list)
    allowed_address_pairs: Mapped[list] = mapped_column(default=list)
    binding_host_id: Mapped[str] = mapped_column(sa.String(255), default="", index=True)  # the agent reads by host
    binding_vnic_type: Mapped[str] = mapped_column(sa.String(32), default="normal")
    binding_profile: Mapped[dict] = mapped_column(default=dict)
    binding_vif_type: Mapped[str] = mapped_column(sa.String(32), default="unbound")
    binding_vif_details: Mapped[dict] = mapped_column(default=dict)
    extra_dhcp_opts: Mapped[list] = mapped_column(default=list)


class IPAllocation(Base):
    """An address handed out on a subnet: the primary key makes a double allocation impossible."""
    __tablename__ = "network_ip_allocations"
    subnet_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("network_subnets.id"), primary_key=True)
    ip_address: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    port_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("network_ports.id", ondelete="CASCADE"), index=True)
    network_id: Mapped[str] = mapped_column(ID, index=True)


class SecurityGroup(Standard, Base):
    __tablename__ = "network_security_groups"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    name: Mapped[str] = mapped_column(sa.String(255), default="")
    stateful: Mapped[bool] = mapped_column(default=True)
    is_default: Mapped[bool] = mapped_column(default=False)


class DefaultSecurityGroup(Base):
    """One ``default`` group per project: the primary key keeps two concurrent requests from making two."""
    __tablename__ = "network_default_security_groups"
    project_id: Mapped[str] = mapped_column(ID, primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        ID, sa.ForeignKey("network_security_groups.id", ondelete="CASCADE"))


class SecurityGroupRule(Base):
    __tablename__ = "network_security_group_rules"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    security_group_id: Mapped[str] = mapped_column(
        ID, sa.ForeignKey("network_security_groups.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(sa.String(8))
    ethertype: Mapped[str] = mapped_column(sa.String(8))
    protocol: Mapped[str | None] = mapped_column(sa.String(40))
    port_range_min: Mapped[int | None]
    port_range_max: Mapped[int | None]
    remote_ip_prefix: Mapped[str | None] = mapped_column(sa.String(64))
    remote_group_id: Mapped[str | None] = mapped_column(ID)
    remote_address_group_id: Mapped[str | None] = mapped_column(ID)
    description: Mapped[str] = mapped_column(sa.String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    revision_number: Mapped[int] = mapped_column(default=0)


class Router(Standard, Base):
    __tablename__ = "network_routers"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    name: Mapped[str] = mapped_column(sa.String(255), default="")
    admin_state_up: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="ACTIVE")
    gateway_network_id: Mapped[str | None] = mapped_column(ID, sa.ForeignKey("network_networks.id"))
    gateway_port_id: Mapped[str | None] = mapped_column(ID)
    enable_snat: Mapped[bool] = mapped_column(default=True)
    routes: Mapped[list] = mapped_column(default=list)
    distributed: Mapped[bool] = mapped_column(default=False)
    ha: Mapped[bool] = mapped_column(default=False)
    availability_zone_hints: Mapped[list] = mapped_column(default=list)


class FloatingIP(Standard, Base):
    __tablename__ = "network_floating_ips"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    floating_network_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("network_networks.id"))
    floating_ip_address: Mapped[str] = mapped_column(sa.String(64))
    floating_port_id: Mapped[str] = mapped_column(ID)
    port_id: Mapped[str | None] = mapped_column(ID, index=True)
    fixed_ip_address: Mapped[str | None] = mapped_column(sa.String(64))
    router_id: Mapped[str | None] = mapped_column(ID)
    status: Mapped[str] = mapped_column(sa.String(16), default="DOWN")
    dns_name: Mapped[str] = mapped_column(sa.String(255), default="")
    dns_domain: Mapped[str] = mapped_column(sa.String(255), default="")
