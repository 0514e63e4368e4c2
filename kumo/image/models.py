"""Image tables: images, their extra properties, tags and members (Glance's schema, slimmed)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kumo.db import model_base, utcnow

Base = model_base("ImageModel")

ID = sa.String(64)
NAME = sa.String(255)


class Image(Base):
    __tablename__ = "image_images"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)  # a dashed uuid, as Glance's
    name: Mapped[str | None] = mapped_column(NAME, index=True)
    status: Mapped[str] = mapped_column(sa.String(30), index=True, default="queued")
    visibility: Mapped[str] = mapped_column(sa.String(20), index=True, default="shared")
    protected: Mapped[bool] = mapped_column(default=False)
    os_hidden: Mapped[bool] = mapped_column(default=False)
    owner: Mapped[str | None] = mapped_column(NAME, index=True)
    disk_format: Mapped[str | None] = mapped_column(sa.String(20))
    container_format: Mapped[str | None] = mapped_column(sa.String(20))
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    virtual_size: Mapped[int | None] = mapped_column(sa.BigInteger)
    checksum: Mapped[str | None] = mapped_column(sa.String(32))
    os_hash_algo: Mapped[str | None] = mapped_column(sa.String(64))
    os_hash_value: Mapped[str | None] = mapped_column(sa.String(128))
    min_disk: Mapped[int] = mapped_column(default=0)
    min_ram: Mapped[int] = mapped_column(default=0)
    # where the image store keeps the bytes (the store's own key; never rendered)
    location: Mapped[str | None] = mapped_column(NAME, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    properties: Mapped[list["ImageProperty"]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin", order_by="ImageProperty.name")
    tags: Mapped[list["ImageTag"]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin", order_by="ImageTag.created_at")

    @property
    def extra(self) -> dict[str, str]:
        return {p.name: p.value for p in self.properties}

    @property
    def tag_list(self) -> list[str]:
        return [t.value for t in self.tags]


class ImageProperty(Base):
    """An extra property (Glance's additionalProperties): a string under any name not in the schema."""
    __tablename__ = "image_properties"
    image_id: Mapped[str] = mapped_column(sa.String(36), sa.ForeignKey("image_images.id", ondelete="CASCADE"),
                                          primary_key=True)
    name: Mapped[str] = mapped_column(NAME, primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)


class ImageTag(Base):
    __tablename__ = "image_tags"
    image_id: Mapped[str] = mapped_column(sa.String(36), sa.ForeignKey("image_images.id", ondelete="CASCADE"),
                                          primary_key=True)
    value: Mapped[str] = mapped_column(NAME, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImageMember(Base):
    """A project an image (visibility ``shared``) is shared with; the member sets its own status."""
    __tablename__ = "image_members"
    image_id: Mapped[str] = mapped_column(sa.String(36), sa.ForeignKey("image_images.id", ondelete="CASCADE"),
                                          primary_key=True)
    member_id: Mapped[str] = mapped_column(NAME, primary_key=True, index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
