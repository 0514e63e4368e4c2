"""Block storage tables: volume types, volumes, their attachments and metadata, snapshots.

A volume's metadata is a table of its own because lists filter on it; a snapshot's is a JSON column."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kumo.db import model_base, utcnow

Base = model_base("VolumeModel")

ID = sa.String(64)
NAME = sa.String(255)


class VolumeType(Base):
    __tablename__ = "volume_types"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME, unique=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    is_public: Mapped[bool] = mapped_column(default=True)
    extra_specs: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None]


class DefaultType(Base):
    """A project's own default volume type (Cinder's default-types API, 3.62)."""
    __tablename__ = "volume_default_types"
    project_id: Mapped[str] = mapped_column(ID, primary_key=True)
    volume_type_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("volume_types.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None]


class Volume(Base):
    __tablename__ = "volumes"
    id: Mapped[str] = mapped_column(ID, primary_key=True)  # a uuid with dashes, as Cinder's
    name: Mapped[str | None] = mapped_column(NAME)
    description: Mapped[str | None] = mapped_column(sa.Text)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    user_id: Mapped[str] = mapped_column(ID)
    size: Mapped[int]
    status: Mapped[str] = mapped_column(sa.String(32), index=True)
    availability_zone: Mapped[str] = mapped_column(NAME)
    volume_type_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("volume_types.id"))
    bootable: Mapped[bool] = mapped_column(default=False)
    read_only: Mapped[bool | None]  # None until os-update_readonly_flag sets it (then shown in metadata)
    multiattach: Mapped[bool] = mapped_column(default=False)
    snapshot_id: Mapped[str | None] = mapped_column(ID)
    source_volid: Mapped[str | None] = mapped_column(ID)
    image_id: Mapped[str | None] = mapped_column(ID)  # created from this image
    image_metadata: Mapped[dict | None]  # volume_image_metadata
    # the image being filled from this volume (os-volume_upload_image), while status is "uploading"
    upload_image_id: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime | None]
    metadata_items: Mapped[list["VolumeMetadata"]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", passive_deletes=True)
    attachments: Mapped[list["VolumeAttachment"]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", passive_deletes=True)


class VolumeMetadata(Base):
    __tablename__ = "volume_metadata"
    volume_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("volumes.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(NAME, primary_key=True)
    value: Mapped[str] = mapped_column(NAME)


class VolumeAttachment(Base):
    __tablename__ = "volume_attachments"
    id: Mapped[str] = mapped_column(ID, primary_key=True)  # the attachment id
    volume_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("volumes.id", ondelete="CASCADE"), index=True)
    server_id: Mapped[str | None] = mapped_column(ID)
    host_name: Mapped[str | None] = mapped_column(NAME)
    device: Mapped[str | None] = mapped_column(NAME)
    attached_at: Mapped[datetime | None]
    # the attachments API (3.27+): reserved → attaching (a connector given) → attached (os-complete);
    # os-attach and Nova's in-process attach make "attached" rows directly
    attach_status: Mapped[str] = mapped_column(sa.String(32), default="attached", server_default="attached")
    attach_mode: Mapped[str] = mapped_column(sa.String(8), default="rw", server_default="rw")
    connector: Mapped[dict | None]


class Snapshot(Base):
    __tablename__ = "volume_snapshots"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str | None] = mapped_column(NAME)
    description: Mapped[str | None] = mapped_column(sa.Text)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    user_id: Mapped[str] = mapped_column(ID)
    volume_id: Mapped[str] = mapped_column(ID, sa.ForeignKey("volumes.id"), index=True)
    size: Mapped[int]
    status: Mapped[str] = mapped_column(sa.String(32), index=True)
    metadata_: Mapped[dict] = mapped_column("metadata", default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime | None]
