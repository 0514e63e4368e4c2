"""Compute tables: flavors, keypairs, servers, their volume attachments and instance actions."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kumo.db import model_base, utcnow

Base = model_base("ComputeModel")

ID = sa.String(64)
NAME = sa.String(255)


class Flavor(Base):
    __tablename__ = "compute_flavors"
    id: Mapped[str] = mapped_column(NAME, primary_key=True)  # Nova's flavorid: "1", or a uuid
    name: Mapped[str] = mapped_column(NAME, unique=True)
    ram: Mapped[int]
    vcpus: Mapped[int]
    disk: Mapped[int] = mapped_column(default=0)
    ephemeral: Mapped[int] = mapped_column(default=0)
    swap: Mapped[int] = mapped_column(default=0)
    rxtx_factor: Mapped[float] = mapped_column(sa.Float, default=1.0)  # as migration 0004 (not Double)
    is_public: Mapped[bool] = mapped_column(default=True)
    disabled: Mapped[bool] = mapped_column(default=False)
    description: Mapped[str | None] = mapped_column(sa.Text)
    extra_specs: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FlavorAccess(Base):
    __tablename__ = "compute_flavor_access"
    flavor_id: Mapped[str] = mapped_column(NAME, sa.ForeignKey("compute_flavors.id", ondelete="CASCADE"),
                                           primary_key=True)
    project_id: Mapped[str] = mapped_column(ID, primary_key=True)


class KeyPair(Base):
    __tablename__ = "compute_keypairs"
    __table_args__ = (sa.UniqueConstraint("user_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ID, index=True)
    name: Mapped[str] = mapped_column(NAME)
    type: Mapped[str] = mapped_column(sa.String(16), default="ssh")
    public_key: Mapped[str] = mapped_column(sa.Text)
    fingerprint: Mapped[str] = mapped_column(NAME)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Server(Base):
    __tablename__ = "compute_servers"
    id: Mapped[str] = mapped_column(ID, primary_key=True)  # a uuid with dashes, as Nova's
    name: Mapped[str] = mapped_column(NAME)
    hostname: Mapped[str] = mapped_column(NAME, default="")
    description: Mapped[str | None] = mapped_column(sa.Text)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    user_id: Mapped[str] = mapped_column(ID)
    image_id: Mapped[str] = mapped_column(ID, default="")  # "" when booted from a volume
    flavor_id: Mapped[str] = mapped_column(NAME)
    flavor: Mapped[dict] = mapped_column(default=dict)  # the flavor as it was at boot (or resize)
    old_flavor: Mapped[dict | None] = mapped_column(sa.JSON)  # during a resize, until confirm/revert
    key_name: Mapped[str | None] = mapped_column(NAME)
    key_data: Mapped[str | None] = mapped_column(sa.Text)
    admin_pass: Mapped[str | None] = mapped_column(NAME)
    user_data: Mapped[str | None] = mapped_column(sa.Text)
    metadata_: Mapped[dict] = mapped_column("metadata", default=dict)
    tags: Mapped[list] = mapped_column(default=list)
    security_groups: Mapped[list] = mapped_column(default=list)
    networks: Mapped[list] = mapped_column(default=list)  # what was asked for
    access_ipv4: Mapped[str] = mapped_column(sa.String(64), default="")
    access_ipv6: Mapped[str] = mapped_column(sa.String(64), default="")
    availability_zone: Mapped[str] = mapped_column(NAME, default="nova")
    config_drive: Mapped[str] = mapped_column(sa.String(16), default="")
    vm_state: Mapped[str] = mapped_column(sa.String(32), default="building", index=True)
    task_state: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    power_state: Mapped[int] = mapped_column(default=0)
    locked: Mapped[bool] = mapped_column(default=False)
    locked_by: Mapped[str | None] = mapped_column(sa.String(16))  # "admin" or "owner"
    locked_reason: Mapped[str | None] = mapped_column(NAME)
    host: Mapped[str | None] = mapped_column(NAME)
    reservation_id: Mapped[str] = mapped_column(sa.String(32), default="", index=True)
    launch_index: Mapped[int] = mapped_column(default=0)
    progress: Mapped[int] = mapped_column(default=0)
    fault: Mapped[dict | None] = mapped_column(sa.JSON)
    # Nova's system_metadata: what the worker needs to finish a task (image to fill, prior vm_state …)
    system_metadata: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    launched_at: Mapped[datetime | None]


class BlockDeviceMapping(Base):
    """Nova's block device mapping for a volume: which volume a server has, at which device."""
    __tablename__ = "compute_volume_attachments"
    __table_args__ = (sa.UniqueConstraint("server_id", "volume_id"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    server_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("compute_servers.id", ondelete="CASCADE"),
                                           index=True)
    volume_id: Mapped[str] = mapped_column(ID, index=True)
    device: Mapped[str] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(16), default="attaching")  # creating|attaching|attached|detaching
    boot_index: Mapped[int | None]
    delete_on_termination: Mapped[bool] = mapped_column(default=False)
    tag: Mapped[str | None] = mapped_column(sa.String(60))  # the device tag (2.32/2.49), shown from 2.70
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InterfaceTag(Base):
    """The device tag of a server's port (boot ``networks[].tag``, interface attach), shown from 2.70."""
    __tablename__ = "compute_interface_tags"
    port_id: Mapped[str] = mapped_column(ID, primary_key=True)
    server_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("compute_servers.id", ondelete="CASCADE"),
                                           index=True)
    tag: Mapped[str] = mapped_column(sa.String(60))


class InstanceAction(Base):
    __tablename__ = "compute_instance_actions"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    server_id: Mapped[str] = mapped_column(ID, index=True)
    request_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    action: Mapped[str] = mapped_column(sa.String(64))
    project_id: Mapped[str] = mapped_column(ID)
    user_id: Mapped[str] = mapped_column(ID)
    message: Mapped[str | None] = mapped_column(sa.Text)
    start_time: Mapped[datetime] = mapped_column(default=utcnow)
    finish_time: Mapped[datetime | None]
    events: Mapped[list] = mapped_column(default=list)  # [{event, start_time, finish_time, result, traceback}]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServerGroup(Base):
    """Nova's server group (instance group): one policy, its rules (``max_server_per_host``)."""
    __tablename__ = "compute_server_groups"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    user_id: Mapped[str] = mapped_column(ID)
    policy: Mapped[str] = mapped_column(sa.String(32))  # affinity|anti-affinity|soft-affinity|soft-anti-affinity
    rules: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServerGroupMember(Base):
    """A server in a group (at most one); ``placed``: the scheduler found it a host within the policy."""
    __tablename__ = "compute_server_group_members"
    server_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("compute_servers.id", ondelete="CASCADE"),
                                           primary_key=True)
    group_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("compute_server_groups.id", ondelete="CASCADE"),
                                          index=True)
    placed: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
