"""Authentication methods of ``POST /v3/auth/tokens``: password, token, application_credential.

This path runs in a read transaction so that password hashing on many
requests proceeds in parallel; a failed password is recorded in its own
short write transaction (lockout), a success after failures likewise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.db import utcnow
from kumo.errors import BadRequest, Unauthorized
from kumo.identity.core import Identity, is_expired
from kumo.identity.fernet import TokenPayload
from kumo.identity.models import ApplicationCredential, Domain, Password, User

METHODS = ("password", "token", "application_credential")


@dataclass
class AuthResult:
    user: User
    methods: list[str]
    app_cred: ApplicationCredential | None = None
    previous: TokenPayload | None = None  # the token being re-scoped


def authenticate(identity: Identity, db: Session, ident: dict) -> AuthResult:
    methods = ident["methods"]
    if any(not isinstance(m, str) for m in methods):
        raise BadRequest("Invalid input for field 'methods': methods are strings.")
    unknown = [m for m in methods if m not in METHODS]
    if unknown or len(set(methods)) != 1:
        raise Unauthorized("Attempted to authenticate with an unsupported method.")
    method = methods[0]
    body = ident.get(method)
    if not isinstance(body, dict):
        raise BadRequest(f"Invalid input for field 'identity': '{method}' is a required property.")
    if method == "password":
        return AuthResult(user=_password(identity, db, body), methods=["password"])
    if method == "application_credential":
        cred, user = _app_cred(identity, db, body)
        return AuthResult(user=user, methods=["application_credential"], app_cred=cred)
    return _token(identity, db, body)


def lookup_user(db: Session, ref) -> User:
    """A user named by id, or by name and domain (id or name); Unauthorized when unknown or disabled."""
    if not isinstance(ref, dict):
        raise BadRequest("Invalid input for field 'user': expected an object.")
    if ref.get("id"):
        user = db.get(User, str(ref["id"]))
    elif ref.get("name"):
        dom = ref.get("domain")
        if not isinstance(dom, dict) or not (dom.get("id") or dom.get("name")):
            raise BadRequest("A user named by name needs its domain (id or name).")
        domain = db.get(Domain, str(dom["id"])) if dom.get("id") else db.scalars(
            sa.select(Domain).where(Domain.name == str(dom["name"]))).first()
        user = None if domain is None else db.scalars(
            sa.select(User).where(User.name == str(ref["name"]), User.domain_id == domain.id)).first()
    else:
        raise BadRequest("A user is identified by its id, or by its name and domain.")
    if user is None:
        raise Unauthorized()
    domain = db.get(Domain, user.domain_id)
    if not user.enabled or domain is None or not domain.enabled:
        raise Unauthorized(f"User {user.id} is disabled.")
    return user


def current_password(db: Session, user_id: str) -> Password | None:
    return db.scalars(sa.select(Password).where(Password.user_id == user_id)
                      .order_by(Password.id.desc()).limit(1)).first()


def _password(identity: Identity, db: Session, body: dict) -> User:
    user = lookup_user(db, body.get("user"))
    secret = body["user"].get("password")
    if not isinstance(secret, str):
        raise BadRequest("Invalid input for field 'password': a string is required.")
    check_password(identity, db, user, secret)
    return user


def check_password(identity: Identity, db: Session, user: User, secret: str, allow_expired: bool = False) -> None:
    """Prove ``secret`` is the user's password, under the lockout rules: a failure is recorded in its own
    short write transaction (so ``db`` should be a read transaction), a success clears the failures."""
    if _locked(identity, user):
        raise Unauthorized(f"The account is locked for user: {user.id}.")
    stored = current_password(db, user.id)
    if stored is None or not identity.hasher.verify(stored.hash, secret):
        _record_failure(identity, user.id)
        raise Unauthorized()
    if not allow_expired and stored.expires_at is not None and is_expired(stored.expires_at) \
            and not user.options.get("ignore_password_expiry"):
        raise Unauthorized(f"The password is expired and needs to be changed for user: {user.id}.")
    if user.failed_auth_count and identity.settings.lockout_failure_attempts:
        _reset_failures(identity, user.id)


def _locked(identity: Identity, user: User) -> bool:
    limit = identity.settings.lockout_failure_attempts
    if not limit or user.options.get("ignore_lockout_failure_attempts"):
        return False
    if user.failed_auth_count < limit:
        return False
    duration = identity.settings.lockout_duration
    return not (duration and user.failed_auth_at
                and user.failed_auth_at + timedelta(seconds=duration) <= utcnow())


def _record_failure(identity: Identity, user_id: str) -> None:
    if not identity.settings.lockout_failure_attempts:
        return
    with identity.db.session() as db:
        user = db.get(User, user_id, with_for_update=True)
        if user is None:
            return
        if _locked(identity, user) is False and user.failed_auth_count >= identity.settings.lockout_failure_attempts:
            user.failed_auth_count = 0  # the previous lockout has run out: count afresh
        user.failed_auth_count += 1
        user.failed_auth_at = utcnow()


def _reset_failures(identity: Identity, user_id: str) -> None:
    with identity.db.session() as db:
        user = db.get(User, user_id, with_for_update=True)
        if user is not None:
            user.failed_auth_count = 0
            user.failed_auth_at = None


def _app_cred(identity: Identity, db: Session, body: dict):
    secret = body.get("secret")
    if not isinstance(secret, str):
        raise BadRequest("Invalid input for field 'secret': a string is required.")
    if body.get("id"):
        cred = db.get(ApplicationCredential, str(body["id"]))
        if cred is None:
            raise Unauthorized()
        user = lookup_user(db, {"id": cred.user_id})
    elif body.get("name"):
        user = lookup_user(db, body.get("user"))
        cred = db.scalars(sa.select(ApplicationCredential).where(
            ApplicationCredential.user_id == user.id, ApplicationCredential.name == str(body["name"]))).first()
        if cred is None:
            raise Unauthorized()
    else:
        raise BadRequest("An application credential is identified by its id, or its name and user.")
    if is_expired(cred.expires_at):
        raise Unauthorized(f"Application credential {cred.id} has expired.")
    if not identity.hasher.verify(cred.secret_hash, secret):
        raise Unauthorized()
    return cred, user


def _token(identity: Identity, db: Session, body: dict) -> AuthResult:
    from kumo.identity import tokens

    token_id = body.get("id")
    if not isinstance(token_id, str):
        raise BadRequest("Invalid input for field 'token': 'id' is a required property.")
    # an invalid, expired or revoked token is a 404 here, as in Keystone (Tempest expects it)
    data = tokens.validate(identity, db, token_id)
    if data.app_cred is not None:
        raise Unauthorized("A token created with an application credential cannot be re-scoped.")
    methods = ["token"] + [m for m in data.payload.methods if m != "token"]
    return AuthResult(user=data.user, methods=methods, previous=data.payload)
