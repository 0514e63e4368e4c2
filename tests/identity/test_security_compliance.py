"""Keystone's [security_compliance]: lockout, password history, complexity, minimum age, self-service rules.

The session cloud locks an account for 5 s after 2 failed logins and keeps a password history of 2
(``kumo.testing.INTEROP_SETTINGS``); the other rules get a cloud of their own.
"""

from __future__ import annotations

import time

import openstack
import pytest

HISTORY = ("The new password cannot be identical to a previous password. The total number which includes the"
           " new password must be unique is 2.")


def login(keystone, user, password: str | None = None):
    """Authenticate through openstacksdk; returns the token or raises SDKException."""
    return keystone.connect(user, password=password).authorize()


def change_own(cloud, user_id: str, original: str, new: str):
    """``POST /v3/users/{id}/password``: no token, the original password is the credential."""
    with cloud.http() as client:
        return client.post(f"/identity/v3/users/{user_id}/password",
                           json={"user": {"original_password": original, "password": new}})


def assert_error(resp, status: int, message: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["code"] == status and error["title"]
    if message is not None:
        assert error["message"] == message
    assert resp.headers["x-openstack-request-id"].startswith("req-")
    return error


# -- lockout ---------------------------------------------------------------------------------------

def test_lockout_after_two_failures_for_five_seconds(cloud, keystone):
    user = keystone.user()
    for _ in range(2):
        with pytest.raises(openstack.exceptions.SDKException, match="HTTP 401"):
            login(keystone, user, password="wrong-password")
    # locked: even the right password is refused, with Keystone's message
    locked = keystone.token(user)
    assert_error(locked, 401, f"The account is locked for user: {user.id}.")
    # the self-service password change is refused too
    assert change_own(cloud, user.id, user.password, "another-password-1").status_code == 401
    time.sleep(5.1)
    assert login(keystone, user)
    # a success resets the count: one more failure does not lock
    with pytest.raises(openstack.exceptions.SDKException, match="HTTP 401"):
        login(keystone, user, password="wrong-password")
    assert login(keystone, user)


def test_a_success_between_failures_resets_the_count(cloud, keystone):
    user = keystone.user()
    assert keystone.token(user, password="wrong-password").status_code == 401
    assert keystone.token(user).status_code == 201
    assert keystone.token(user, password="wrong-password").status_code == 401
    assert keystone.token(user).status_code == 201  # never two failures in a row


def test_failed_self_service_changes_count_towards_lockout(cloud, keystone):
    user = keystone.user()
    for _ in range(2):
        assert_error(change_own(cloud, user.id, "wrong-original", "new-password-1"), 401)
    assert_error(keystone.token(user), 401, f"The account is locked for user: {user.id}.")


def test_ignore_lockout_option(cloud, keystone):
    user = keystone.user(options={"ignore_lockout_failure_attempts": True})
    for _ in range(3):
        assert keystone.token(user, password="wrong-password").status_code == 401
    assert keystone.token(user).status_code == 201


# -- password history ------------------------------------------------------------------------------

def test_password_history_with_the_cli(cloud, keystone):
    user, project = keystone.member()
    first = user.password
    changed, back = keystone.cli(
        ["user", "password", "set", "--original-password", first, "--password", "second-password-2"],
        # back to the first one: it is within the last 2 passwords
        ["user", "password", "set", "--original-password", "second-password-2", "--password", first],
        user=user, project=project)
    assert not changed.err
    assert back.err.startswith("BadRequestException: 400") and back.err.endswith(HISTORY)
    assert keystone.token(user, password="second-password-2").status_code == 201
    assert keystone.token(user, password=first).status_code == 401


def test_password_history_over_http(cloud, keystone):
    user = keystone.user()
    first = user.password
    assert change_own(cloud, user.id, first, "second-password-2").status_code == 204
    assert_error(change_own(cloud, user.id, "second-password-2", "second-password-2"), 400, HISTORY)
    assert_error(change_own(cloud, user.id, "second-password-2", first), 400, HISTORY)
    assert change_own(cloud, user.id, "second-password-2", "third-password-3").status_code == 204
    # the history holds 2 passwords: the first may come back now
    assert change_own(cloud, user.id, "third-password-3", first).status_code == 204
    assert keystone.token(user, password=first).status_code == 201


def test_an_admin_may_reset_to_any_password(cloud, keystone):
    """As in Keystone: the history binds the user's own changes, not an administrator's reset."""
    user = keystone.user()
    first = user.password
    assert change_own(cloud, user.id, first, "second-password-2").status_code == 204
    keystone.conn.identity.update_user(user.id, password=first)
    assert keystone.token(user, password=first).status_code == 201
    # the reset still counts as history for the user's next change
    assert_error(change_own(cloud, user.id, first, "second-password-2"), 400, HISTORY)


def test_wrong_original_password_unknown_user_and_bad_bodies(cloud, keystone):
    user = keystone.user()
    assert_error(change_own(cloud, user.id, "not-the-password", "new-password-1"), 401)
    assert keystone.token(user).status_code == 201  # unchanged
    # an unknown user is indistinguishable from a wrong password (no user enumeration)
    assert_error(change_own(cloud, "no-such-user", "whatever", "new-password-1"), 401)
    with cloud.http() as client:
        missing = client.post(f"/identity/v3/users/{user.id}/password", json={"user": {"password": "x-1"}})
        assert_error(missing, 400)
        assert "original_password" in missing.json()["error"]["message"]
        wrong_type = client.post(f"/identity/v3/users/{user.id}/password",
                                 json={"user": {"password": 12345, "original_password": user.password}})
        assert_error(wrong_type, 400)
        assert "password" in wrong_type.json()["error"]["message"]


def test_a_disabled_user_cannot_change_its_password(cloud, keystone):
    user = keystone.user(is_enabled=False)
    assert_error(change_own(cloud, user.id, user.password, "new-password-1"), 401)


def test_lock_password_option_forbids_self_service_changes(cloud, keystone):
    user = keystone.user(options={"lock_password": True})
    assert_error(change_own(cloud, user.id, user.password, "new-password-1"), 400,
                 "You cannot change your password at this time due to password policy disallowing password"
                 " changes. Please contact your administrator to reset your password.")
    keystone.conn.identity.update_user(user, password="new-password-1")  # an admin still may
    assert keystone.token(user, password="new-password-1").status_code == 201


# -- complexity and minimum age: a cloud of their own ----------------------------------------------

REGEX = r"^(?=.*\d)(?=.*[!@#%^&*]).{8,}$"  # a digit and a symbol that generated passwords never contain
DESCRIPTION = "Passwords must contain at least 1 digit and 1 symbol, and be at least 8 characters long."


@pytest.fixture
def strict_cloud(fresh_cloud):
    return fresh_cloud(env={"KUMO_PASSWORD_REGEX": REGEX, "KUMO_PASSWORD_REGEX_DESCRIPTION": DESCRIPTION,
                            "KUMO_MINIMUM_PASSWORD_AGE": "1"})


def test_password_regex_and_minimum_age(strict_cloud):
    cloud = strict_cloud
    message = f"The password does not match the requirements: {DESCRIPTION}."
    # the generated bootstrap passwords work even though the rules could not foresee them
    conn = cloud.sdk()
    assert conn.identity.get_project(conn.current_project_id).name == "admin"

    with cloud.http(cloud.token()) as admin:
        resp = admin.post("/identity/v3/users", json={"user": {"name": "weak", "password": "password"}})
        assert_error(resp, 400, message)
        resp = admin.post("/identity/v3/users", json={"user": {"name": "strong", "password": "s3cret!pass"}})
        assert resp.status_code == 201, resp.text
        user_id = resp.json()["user"]["id"]
        assert_error(admin.patch(f"/identity/v3/users/{user_id}", json={"user": {"password": "weak"}}),
                     400, message)

    # self-service: the complexity rule applies
    assert_error(change_own(cloud, user_id, "s3cret!pass", "nodigitsorsymbols"), 400, message)
    # the first self-service change after an admin set the password is allowed...
    assert change_own(cloud, user_id, "s3cret!pass", "s3cret!pass2").status_code == 204
    # ...but a password the user chose must be kept for a day
    error = assert_error(change_own(cloud, user_id, "s3cret!pass2", "s3cret!pass3"), 400)
    assert error["message"].startswith("You cannot change your password at this time due to the minimum"
                                       " password age. Once you change your password, it must be used for"
                                       " 1 day(s) before it can be changed.")
    # an administrator may still reset it, after which the user may change it again
    with cloud.http(cloud.token()) as admin:
        resp = admin.patch(f"/identity/v3/users/{user_id}", json={"user": {"password": "r3set!pass"}})
        assert resp.status_code == 200, resp.text
    assert change_own(cloud, user_id, "r3set!pass", "s3cret!pass4").status_code == 204
