"""Starting: identity answers first, the other services once started, and nothing fails in between."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import sqlalchemy as sa

from kumo import testing

FAST_HASHING = {"KUMO_PASSWORD_HASH_TIME_COST": "1", "KUMO_PASSWORD_HASH_MEMORY_KIB": "1024"}


def _get(url: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"X-Auth-Token": token} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def test_requests_made_while_starting_wait_for_their_service(tmp_path):
    """The first answer comes from identity while the rest starts; a request to another service made then
    waits and is answered as after a full start (the builtin images are there); /healthz is 503 until then."""
    data_dir = tmp_path / "data"
    port = testing.free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "kumo", "serve", "--data-dir", str(data_dir), "--port", str(port),
                             "--backend", "simulated"], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **FAST_HASHING, "KUMO_LOG_LEVEL": "warning"}, start_new_session=True)
    server = testing.Server(data_dir, port, proc, tmp_path / "serve.log")
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, server.log()
            assert time.monotonic() < deadline, server.log()
            try:
                status, _ = _get(server.url + "/identity/v3")
                break
            except OSError:
                time.sleep(0.01)
        assert status == 200
        health, body = _get(server.url + "/healthz")
        assert (health, body["status"]) in ((503, "starting"), (200, "ok")), body
        # right away, before /healthz says ok: a token, then the image list through the gate
        request = urllib.request.Request(server.url + "/identity/v3/auth/tokens", method="POST", data=json.dumps(
            {"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": "default"}, "password": server.password()}}},
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as resp:
            token = resp.headers["X-Subject-Token"]
            catalog = {entry["type"] for entry in json.load(resp)["token"]["catalog"]}
        assert catalog == {"identity", "compute", "network", "image", "block-storage"}
        status, images = _get(server.url + "/image/v2/images", token)
        assert status == 200, images
        assert {"busybox", "busybox-alt"} <= {image["name"] for image in images["images"]}
        assert _get(server.url + "/healthz")[0] == 200
        status, servers = _get(server.url + "/compute/v2.1/servers", token)
        assert (status, servers) == (200, {"servers": []})
    finally:
        server.stop()
        log.close()
        testing.wipe(data_dir)
    assert proc.returncode == 0, server.log()


def test_migration_heads_are_alembics(tmp_path):
    """The newest revisions read from the migration files without Alembic are the ones Alembic finds."""
    from alembic.script import ScriptDirectory

    from kumo.db import Database, alembic_config, migration_heads

    db = Database(f"sqlite:///{tmp_path / 'kumo.db'}")
    try:
        assert migration_heads() == set(ScriptDirectory.from_config(alembic_config(db)).get_heads())
    finally:
        db.dispose()


def test_a_start_cut_short_is_completed_at_the_next(tmp_path):
    """Identity's tables alone, not stamped (a first start that stopped early): the next upgrade creates the
    rest and stamps it; then nothing is left to do."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from kumo.db import Base, Database, migration_heads
    from kumo.identity import cache, models  # noqa: F401

    db = Database(f"sqlite:///{tmp_path / 'kumo.db'}")
    try:
        identity_tables = [t for name, t in Base.metadata.tables.items() if name.startswith("identity_")]
        db.create_schema(tables=identity_tables)
        assert db.schema_state() == "new"
        db.upgrade()
        assert db.schema_state() == "current"
        with db.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                    Base.metadata) == []
            stamped = set(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
        assert stamped == migration_heads()
        with db.engine.begin() as conn:  # as before revision 0009: behind, and migrated by Alembic
            conn.execute(sa.text("DROP TABLE identity_revision"))
            conn.execute(sa.text("DELETE FROM alembic_version WHERE version_num = '0009'"))
        assert db.schema_state() == "behind"
        db.upgrade()
        assert db.schema_state() == "current"
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT value FROM identity_revision WHERE id = 1")).scalar() == 0
    finally:
        db.dispose()


def test_each_declared_service_is_served_by_its_package():
    """The catalog and the mounts come from ``kumo.services.DECLARED`` before the services load: each row's
    package must serve exactly that row."""
    from kumo.app import services
    from kumo.services import DECLARED

    assert [service.declared for service in services()] == list(DECLARED)
    assert len({entry.prefix for entry in DECLARED}) == len({entry.type for entry in DECLARED}) == len(DECLARED)
