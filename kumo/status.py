"""``kumo status``: ask the running server, and count what the store holds."""

from __future__ import annotations

import json
import urllib.request

import sqlalchemy as sa

from kumo.config import Settings


def report(settings: Settings) -> dict:
    info = {"url": settings.base_url, "data_dir": str(settings.data_dir.resolve()), "up": False}
    try:
        with urllib.request.urlopen(settings.base_url + "/healthz", timeout=2) as resp:
            info.update(json.load(resp), up=True)
    except OSError:
        pass
    if settings.data_dir.exists() and (settings.database_url or (settings.data_dir / "kumo.db").exists()):
        from kumo.identity import models as m
        engine = sa.create_engine(settings.database)
        try:
            with engine.connect() as conn:
                info["counts"] = {name: conn.scalar(sa.select(sa.func.count()).select_from(model))
                                  for name, model in (("domains", m.Domain), ("projects", m.Project),
                                                      ("users", m.User), ("groups", m.Group),
                                                      ("roles", m.Role))}
        except sa.exc.DBAPIError:
            info["counts"] = {}
        finally:
            engine.dispose()
    return info
