"""The ``clouds.yaml`` that points the stock OpenStack clients at this cloud."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from kumo.config import Settings


def path_for(settings: Settings) -> Path:
    return settings.data_dir.resolve() / "clouds.yaml"


def write(settings: Settings, admin_password: str | None = None, demo_password: str | None = None) -> Path:
    """Write (or refresh the URL in) ``<data_dir>/clouds.yaml``; passwords are kept from the old file."""
    target = path_for(settings)
    old = yaml.safe_load(target.read_text()) if target.exists() else {}
    old_clouds = (old or {}).get("clouds", {})

    def entry(name: str, user: str, project: str, password: str | None) -> dict:
        previous = old_clouds.get(name, {}).get("auth", {})
        return {
            "auth": {"auth_url": settings.base_url + "/identity/v3", "username": user,
                     "password": password or previous.get("password", ""), "project_name": project,
                     "user_domain_name": "Default", "project_domain_name": "Default"},
            "region_name": settings.region, "interface": "public", "identity_api_version": 3,
        }

    clouds = {"clouds": {"kumo": entry("kumo", "demo", "demo", demo_password),
                         "kumo-admin": entry("kumo-admin", "admin", "admin", admin_password)}}
    tmp = target.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(clouds, fh, sort_keys=False)
    os.replace(tmp, target)
    return target
