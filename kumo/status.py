"""``kumo status``: ask the running server, and count what the store holds (each service counts its own)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.config import Settings


def report(settings: Settings) -> dict:
    info = {"url": settings.base_url, "data_dir": str(settings.data_dir.resolve()), "up": False}
    try:
        with urllib.request.urlopen(settings.base_url + "/healthz", timeout=2) as resp:
            info.update(json.load(resp), up=True)
    except urllib.error.HTTPError as exc:  # 503: identity answers while the other services start (or failed)
        try:
            info.update(json.load(exc), up=True)
        except ValueError:
            pass
    except OSError:
        pass
    if settings.data_dir.exists() and (settings.database_url or (settings.data_dir / "kumo.db").exists()):
        info["counts"] = counts(settings.database)
    return info


def counts(database_url: str) -> dict:
    """Every service's counts, merged in service order (names are distinct across services)."""
    from kumo.app import services

    engine = sa.create_engine(database_url)
    found: dict = {}
    try:
        with Session(engine) as db:
            for service in services():
                if service.counts is None:
                    continue
                try:
                    found.update(service.counts(db))
                except sa.exc.DBAPIError:  # a store older than this service's tables
                    db.rollback()
    finally:
        engine.dispose()
    return found

