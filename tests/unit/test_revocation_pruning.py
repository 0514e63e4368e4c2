"""Revocation events older than any live token are pruned: when identity starts, then periodically."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import sqlalchemy as sa

from kumo.app import Cloud
from kumo.config import Settings
from kumo.db import utcnow
from kumo.identity import revocations
from kumo.identity.models import RevocationEvent


def _audit_ids(cloud) -> set[str]:
    with cloud.db.session(write=False) as db:
        return set(db.scalars(sa.select(RevocationEvent.audit_id)))


def _add(cloud, audit_id: str, age: timedelta) -> None:
    with cloud.db.session() as db:
        revocations.revoke(db, audit_id=audit_id, issued_before=utcnow() - age)


def test_old_events_are_pruned_at_start_and_then_periodically(tmp_path):
    cloud = Cloud(Settings(data_dir=tmp_path / "data", backend="simulated", token_expiration=3600))
    try:
        cloud.db.upgrade()
        lifetime = timedelta(hours=1)
        _add(cloud, "old", lifetime + timedelta(minutes=6))  # past the lifetime plus the 5 minutes of slack
        _add(cloud, "edge", lifetime + timedelta(minutes=4))  # within the slack: a token may still be live
        _add(cloud, "recent", timedelta(seconds=1))
        revocations.prune_every(cloud, seconds=0.05)  # what identity's on_start does (hourly)
        assert _audit_ids(cloud) == {"edge", "recent"}
        _add(cloud, "old-later", lifetime + timedelta(hours=2))
        deadline = time.monotonic() + 5
        while "old-later" in _audit_ids(cloud) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _audit_ids(cloud) == {"edge", "recent"}
    finally:
        cloud.close()
    assert not [t for t in threading.enumerate() if t.name == "kumo-revocation-prune"]  # close() stopped it


def test_identity_starts_the_pruning():
    from kumo.identity.http import SERVICE

    calls = []

    class FakeCloud:
        def every(self, seconds, job, name):
            calls.append((seconds, name))

    real = revocations.prune
    revocations.prune = lambda db, lifetime: 0
    try:
        fake = FakeCloud()
        fake.db = type("DB", (), {"session": lambda self: _NullSession()})()
        fake.identity = type("I", (), {"token_lifetime": lambda self: timedelta(hours=1)})()
        SERVICE.on_start(fake)
    finally:
        revocations.prune = real
    assert calls == [(3600, "revocation-prune")]


class _NullSession:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
