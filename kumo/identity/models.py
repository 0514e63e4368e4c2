"""Identity tables."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kumo.db import Base, new_id, utcnow

ID = sa.String(64)
NAME = sa.String(255)


class Domain(Base):
    __tablename__ = "identity_domains"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NAME, unique=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    tags: Mapped[list] = mapped_column(default=list)
    options: Mapped[dict] = mapped_column(default=dict)
    extra: Mapped[dict] = mapped_column(default=dict)


class Project(Base):
    __tablename__ = "identity_projects"
    __table_args__ = (sa.UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NAME)
    domain_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("identity_domains.id"), index=True)
    parent_id: Mapped[str | None] = mapped_column(ID, sa.ForeignKey("identity_projects.id"), index=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    tags: Mapped[list] = mapped_column(default=list)
    options: Mapped[dict] = mapped_column(default=dict)
    extra: Mapped[dict] = mapped_column(default=dict)


class User(Base):
    __tablename__ = "identity_users"
    __table_args__ = (sa.UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NAME)
    domain_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("identity_domains.id"), index=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    default_project_id: Mapped[str | None] = mapped_column(ID)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    options: Mapped[dict] = mapped_column(default=dict)
    extra: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_active_at: Mapped[datetime | None]
    failed_auth_count: Mapped[int] = mapped_column(default=0)
    failed_auth_at: Mapped[datetime | None]


class Password(Base):
    """Every password a user has had; the newest is the current one."""
    __tablename__ = "identity_passwords"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("identity_users.id", ondelete="CASCADE"), index=True)
    hash: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    self_service: Mapped[bool] = mapped_column(default=False)


class Group(Base):
    __tablename__ = "identity_groups"
    __table_args__ = (sa.UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NAME)
    domain_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("identity_domains.id"), index=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    extra: Mapped[dict] = mapped_column(default=dict)


class Membership(Base):
    __tablename__ = "identity_group_members"
    user_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("identity_users.id", ondelete="CASCADE"),
                                         primary_key=True)
    group_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("identity_groups.id", ondelete="CASCADE"),
                                          primary_key=True, index=True)


class Role(Base):
    """A role; ``domain_id`` is "" for global roles so that names stay unique in SQL."""
    __tablename__ = "identity_roles"
    __table_args__ = (sa.UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NAME)
    domain_id: Mapped[str] = mapped_column(ID, default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    options: Mapped[dict] = mapped_column(default=dict)
    extra: Mapped[dict] = mapped_column(default=dict)


class ImpliedRole(Base):
    __tablename__ = "identity_implied_roles"
    prior_role_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("identity_roles.id", ondelete="CASCADE"),
                                               primary_key=True)
    implied_role_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("identity_roles.id", ondelete="CASCADE"),
                                                 primary_key=True)


class Assignment(Base):
    """A role granted to an actor (user or group) on a target (project, domain or the system)."""
    __tablename__ = "identity_assignments"
    actor_type: Mapped[str] = mapped_column(sa.String(8), primary_key=True)  # user | group
    actor_id: Mapped[str] = mapped_column(ID, primary_key=True, index=True)
    target_type: Mapped[str] = mapped_column(sa.String(8), primary_key=True)  # project | domain | system
    target_id: Mapped[str] = mapped_column(ID, primary_key=True, index=True)  # "all" for the system
    role_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("identity_roles.id", ondelete="CASCADE"),
                                         primary_key=True)
    inherited: Mapped[bool] = mapped_column(primary_key=True, default=False)


class ApplicationCredential(Base):
    __tablename__ = "identity_app_credentials"
    __table_args__ = (sa.UniqueConstraint("user_id", "name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(NAME)
    user_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("identity_users.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str | None] = mapped_column(ID)
    system: Mapped[str | None] = mapped_column(sa.String(16))
    secret_hash: Mapped[str] = mapped_column(sa.String(255))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    expires_at: Mapped[datetime | None]
    unrestricted: Mapped[bool] = mapped_column(default=False)
    role_ids: Mapped[list] = mapped_column(default=list)
    access_rule_ids: Mapped[list] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccessRule(Base):
    __tablename__ = "identity_access_rules"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("identity_users.id", ondelete="CASCADE"), index=True)
    service: Mapped[str] = mapped_column(sa.String(64))
    path: Mapped[str] = mapped_column(sa.String(255))
    method: Mapped[str] = mapped_column(sa.String(16))


class Region(Base):
    __tablename__ = "identity_regions"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    parent_region_id: Mapped[str | None] = mapped_column(ID, sa.ForeignKey("identity_regions.id"))
    extra: Mapped[dict] = mapped_column(default=dict)


class Service(Base):
    __tablename__ = "identity_services"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(sa.String(255), index=True)
    name: Mapped[str] = mapped_column(NAME, default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    extra: Mapped[dict] = mapped_column(default=dict)


class Endpoint(Base):
    __tablename__ = "identity_endpoints"
    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("identity_services.id", ondelete="CASCADE"),
                                            index=True)
    interface: Mapped[str] = mapped_column(sa.String(8))
    region_id: Mapped[str | None] = mapped_column(ID, sa.ForeignKey("identity_regions.id"))
    url: Mapped[str] = mapped_column(sa.Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    extra: Mapped[dict] = mapped_column(default=dict)


class RevocationEvent(Base):
    """Tokens issued before ``issued_before`` that match every non-null field are revoked."""
    __tablename__ = "identity_revocations"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    audit_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    user_id: Mapped[str | None] = mapped_column(ID, index=True)
    project_id: Mapped[str | None] = mapped_column(ID, index=True)
    domain_id: Mapped[str | None] = mapped_column(ID)
    app_cred_id: Mapped[str | None] = mapped_column(ID)
    issued_before: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime] = mapped_column(default=utcnow)
