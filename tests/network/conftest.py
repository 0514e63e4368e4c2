"""Fixtures of the data-plane tests: a migrated template database per module, a ``Plane`` per test."""

from __future__ import annotations

import pytest

from .plane import Plane


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    from kumo.db import Database
    path = tmp_path_factory.mktemp("dataplane-db") / "kumo.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    return path


@pytest.fixture
def plane(tmp_path, template):
    p = Plane(tmp_path, template)
    yield p
    p.close()
    assert p.leftovers() == []
