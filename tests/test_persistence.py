"""What Kumo keeps across restarts (clean or ``kill -9``), and the schema its migrations build."""

from __future__ import annotations

import signal

import sqlalchemy as sa

PASSWORD_LINE = "admin password (shown once, also in clouds.yaml)"


def check_everything_is_still_there(cloud, made: dict) -> None:
    conn = cloud.sdk()
    assert conn.identity.get_project(made["project"]).name == "kept-project"
    assert conn.identity.get_user(made["user"]).default_project_id == made["project"]
    assert conn.identity.get_role(made["role"]).name == "kept-role"
    assert conn.identity.validate_user_has_project_role(made["project"], made["user"], made["role"])
    with cloud.http(cloud.token()) as admin:
        resp = admin.get("/identity/v3/auth/tokens", headers={"X-Subject-Token": made["token"]})
        assert resp.status_code == 200, resp.text
        assert resp.json()["token"]["project"]["id"] == made["project"]
    with cloud.http(made["token"]) as client:  # still usable as a credential
        assert client.get(f"/identity/v3/projects/{made['project']}").status_code == 200
    # the password still works
    assert cloud.token("kept-user", "kept-password-1", project="kept-project")


def test_restart_after_a_clean_stop_and_after_kill_9(fresh_cloud):
    cloud = fresh_cloud()
    port, first_password = cloud.server.port, cloud.password()
    conn = cloud.sdk()
    project = conn.identity.create_project(name="kept-project", domain_id="default")
    user = conn.identity.create_user(name="kept-user", password="kept-password-1", domain_id="default",
                                     default_project_id=project.id)
    role = conn.identity.create_role(name="kept-role")
    conn.identity.assign_project_role_to_user(project, user, role)
    made = {"project": project.id, "user": user.id, "role": role.id,
            "token": cloud.token("kept-user", "kept-password-1", project="kept-project")}
    assert cloud.server.log().count(PASSWORD_LINE) == 1

    assert cloud.server.stop() == 0
    cloud = fresh_cloud(port=port)  # same data directory, same port
    check_everything_is_still_there(cloud, made)
    log = cloud.server.log()  # both starts write to the same log
    assert log.count("serving on") == 2 and log.count(PASSWORD_LINE) == 1  # the password only the first time
    assert cloud.password() == first_password  # clouds.yaml keeps it

    # a crash: nothing flushed on the way out, the pid file left behind
    cloud.server.stop(sig=signal.SIGKILL)
    assert (cloud.server.data_dir / "kumo.pid").exists()
    cloud = fresh_cloud(port=port)
    check_everything_is_still_there(cloud, made)
    assert cloud.server.log().count(PASSWORD_LINE) == 1
    assert "Traceback" not in cloud.server.log()


def test_an_empty_database_upgrades_to_the_models(tmp_path):
    """Every migration from nothing to the newest: the tables are exactly what the models declare."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from kumo.db import Base, Database
    from kumo.db import models  # noqa: F401  (every table on Base.metadata)

    db = Database(f"sqlite:///{tmp_path / 'kumo.db'}")
    try:
        db.upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
            assert diff == [], diff
            tables = set(sa.inspect(conn).get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert "identity_users" in tables and "alembic_version" in tables
        db.upgrade()  # a second upgrade is a no-op
    finally:
        db.dispose()
