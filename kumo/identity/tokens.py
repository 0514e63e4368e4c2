"""Tokens: issue (authenticate + scope), validate, revoke."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.context import Context
from kumo.errors import BadRequest, NotFound, Unauthorized
from kumo.identity import assignments, authn, cache, catalog, revocations, users
from kumo.identity.core import SYSTEM_ALL, Identity, is_expired
from kumo.identity.fernet import TokenInvalid, TokenPayload, new_audit_id
from kumo.identity.models import ApplicationCredential, Domain, Project, Role, User


@dataclass
class TokenData:
    """A validated token, with everything its body shows."""
    payload: TokenPayload
    user: User
    user_domain: Domain
    roles: list[Role] = field(default_factory=list)
    project: Project | None = None
    project_domain: Domain | None = None
    domain: Domain | None = None
    app_cred: ApplicationCredential | None = None
    catalog: list = field(default_factory=list)
    password_expires_at: datetime | None = None
    # the token's body as rendered, by "with catalog": a cached token is shown again as it was
    rendered: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def system(self) -> bool:
        return self.payload.system == SYSTEM_ALL

    @property
    def issued_at(self) -> datetime:
        return to_datetime(self.payload.issued_at)

    @property
    def expires_at(self) -> datetime:
        return to_datetime(self.payload.expires_at)

    def context(self, request_id: str = "") -> Context:
        return Context(
            user_id=self.user.id, user_name=self.user.name, user_domain_id=self.user.domain_id,
            project_id=self.project.id if self.project else None,
            project_name=self.project.name if self.project else None,
            project_domain_id=self.project.domain_id if self.project else None,
            domain_id=self.domain.id if self.domain else None, system=self.system,
            roles=frozenset(r.name for r in self.roles), role_ids=frozenset(r.id for r in self.roles),
            audit_ids=self.payload.audit_ids, app_cred_id=self.payload.app_cred_id, request_id=request_id,
        )


def to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc).replace(tzinfo=None)


def to_timestamp(dt: datetime) -> float:
    return dt.replace(tzinfo=timezone.utc).timestamp()


# -- issue ------------------------------------------------------------------

def issue(identity: Identity, db: Session, auth: dict) -> tuple[str, TokenData]:
    """Authenticate ``auth`` (the body's ``auth`` object) and return a new token and its data."""
    if not isinstance(auth, dict):
        raise BadRequest("Invalid input for field 'auth': expected an object.")
    ident = auth.get("identity")
    if not isinstance(ident, dict) or not isinstance(ident.get("methods"), list) or not ident["methods"]:
        raise BadRequest("Invalid input for field 'identity': 'methods' is a required property.")
    result = authn.authenticate(identity, db, ident)
    now = time.time()
    if result.previous is not None:  # re-scoping an existing token keeps its expiry and audit chain
        expires = result.previous.expires_at
        audit_ids = (new_audit_id(), result.previous.audit_ids[-1])
    else:
        expires = now + identity.settings.token_expiration
        audit_ids = (new_audit_id(),)
    if result.app_cred is not None and result.app_cred.expires_at is not None:
        expires = min(expires, to_timestamp(result.app_cred.expires_at))
    scope = resolve_scope(db, result.user, auth.get("scope"), result)
    payload = TokenPayload(user_id=result.user.id, methods=tuple(result.methods), issued_at=now,
                           expires_at=expires, audit_ids=audit_ids,
                           app_cred_id=result.app_cred.id if result.app_cred else None, **scope)
    data = load(identity, db, payload, for_issue=True)
    return identity.keys.encrypt(payload), data


def resolve_scope(db: Session, user: User, scope, result) -> dict:
    """The scope requested (or the app credential's, or the user's default project)."""
    if result.app_cred is not None:
        if scope not in (None, "unscoped"):
            raise Unauthorized("Application credentials cannot request a scope.")
        if result.app_cred.system:
            return {"system": result.app_cred.system}
        return {"project_id": result.app_cred.project_id}
    if scope is None or scope == "unscoped":
        if scope is None and user.default_project_id:
            project = db.get(Project, user.default_project_id)
            if (project is not None and project.enabled
                    and assignments.direct_role_ids(db, user.id, project_id=project.id)):
                return {"project_id": project.id}
        return {}
    if not isinstance(scope, dict) or len(scope) != 1:
        raise BadRequest("Specify exactly one of project, domain, system or unscoped as the scope.")
    if "project" in scope:
        project = _lookup_project(db, scope["project"])
        if not assignments.direct_role_ids(db, user.id, project_id=project.id):
            raise Unauthorized(f"User {user.id} has no access to project {project.id}")
        return {"project_id": project.id}
    if "domain" in scope:
        domain = _lookup_domain(db, scope["domain"])
        if not assignments.direct_role_ids(db, user.id, domain_id=domain.id):
            raise Unauthorized(f"User {user.id} has no access to domain {domain.id}")
        return {"domain_id": domain.id}
    if "system" in scope:
        if scope["system"] != {"all": True}:
            raise BadRequest("The only system scope is {\"all\": true}.")
        if not assignments.has_system_role(db, user.id):
            raise Unauthorized(f"User {user.id} has no access to the system")
        return {"system": SYSTEM_ALL}
    raise BadRequest("Specify exactly one of project, domain, system or unscoped as the scope.")


def _lookup_domain(db: Session, ref) -> Domain:
    if not isinstance(ref, dict) or not (ref.get("id") or ref.get("name")):
        raise BadRequest("A domain is identified by its id or its name.")
    if ref.get("id"):
        domain = db.get(Domain, str(ref["id"]))
    else:
        domain = db.scalars(sa.select(Domain).where(Domain.name == str(ref["name"]))).first()
    if domain is None:
        raise Unauthorized(f"Could not find domain: {ref.get('id') or ref.get('name')}.")
    if not domain.enabled:
        raise Unauthorized(f"Domain {domain.id} is disabled.")
    return domain


def _lookup_project(db: Session, ref) -> Project:
    if not isinstance(ref, dict) or not (ref.get("id") or ref.get("name")):
        raise BadRequest("A project is identified by its id, or by its name and domain.")
    if ref.get("id"):
        project = db.get(Project, str(ref["id"]))
    else:
        if "domain" not in ref:
            raise BadRequest("A project named in a scope needs its domain.")
        domain = _lookup_domain(db, ref["domain"])
        project = db.scalars(sa.select(Project).where(Project.name == str(ref["name"]),
                                                      Project.domain_id == domain.id)).first()
    if project is None:
        raise Unauthorized(f"Could not find project: {ref.get('id') or ref.get('name')}.")
    if not project.enabled:
        raise Unauthorized(f"Project {project.id} is disabled.")
    domain = db.get(Domain, project.domain_id)
    if domain is None or not domain.enabled:
        raise Unauthorized(f"Domain {project.domain_id} is disabled.")
    return project


# -- validate ---------------------------------------------------------------

def decode(identity: Identity, token: str) -> TokenPayload:
    try:
        return identity.keys.decrypt(token)
    except TokenInvalid:
        raise NotFound("Could not find token.") from None


def validate(identity: Identity, db: Session, token: str) -> TokenData:
    """A token's data, or NotFound when it is invalid, expired, revoked or its scope is gone."""
    if not token or len(token) > 1024:
        raise NotFound("Could not find token.")
    revision = cache.current(db)
    data = identity.tokens.get(token, revision)
    if data is not None:
        return data
    payload = decode(identity, token)
    data = load(identity, db, payload)
    for row in (data.user, data.user_domain, data.project, data.project_domain, data.domain, data.app_cred,
                *data.roles):
        if row is not None and row in db:
            db.expunge(row)  # keeps its loaded values for later requests, whatever this session does next
    if not db.info.get("identity_bumped"):  # never remember what this session's own uncommitted writes show
        identity.tokens.put(token, revision, payload.expires_at, data)
    return data


def load(identity: Identity, db: Session, payload: TokenPayload, for_issue: bool = False) -> TokenData:
    gone = Unauthorized if for_issue else (lambda msg: NotFound(msg))
    if payload.expires_at <= time.time():
        raise gone("The token has expired.")
    user = db.get(User, payload.user_id)
    if user is None or not user.enabled:
        raise gone(f"Could not find token (user {payload.user_id} is disabled or gone).")
    user_domain = db.get(Domain, user.domain_id)
    if user_domain is None or not user_domain.enabled:
        raise gone("The user's domain is disabled.")
    if not for_issue and revocations.is_revoked(
            db, issued_at=to_datetime(payload.issued_at), audit_ids=payload.audit_ids, user_id=user.id,
            project_id=payload.project_id, domain_id=payload.domain_id, app_cred_id=payload.app_cred_id):
        raise gone("The token has been revoked.")
    data = TokenData(payload=payload, user=user, user_domain=user_domain)
    data.password_expires_at = users.password_expires_at(db, user.id)
    if payload.app_cred_id:
        cred = db.get(ApplicationCredential, payload.app_cred_id)
        if cred is None or is_expired(cred.expires_at):
            raise gone("The application credential is gone or has expired.")
        data.app_cred = cred
    if payload.project_id:
        project = db.get(Project, payload.project_id)
        if project is None or not project.enabled:
            raise gone(f"Project {payload.project_id} is disabled or gone.")
        project_domain = db.get(Domain, project.domain_id)
        if project_domain is None or not project_domain.enabled:
            raise gone("The project's domain is disabled.")
        data.project, data.project_domain = project, project_domain
        data.roles = assignments.effective_roles(db, user.id, project_id=project.id)
    elif payload.domain_id:
        domain = db.get(Domain, payload.domain_id)
        if domain is None or not domain.enabled:
            raise gone(f"Domain {payload.domain_id} is disabled or gone.")
        data.domain = domain
        data.roles = assignments.effective_roles(db, user.id, domain_id=domain.id)
    elif payload.system:
        data.roles = assignments.effective_roles(db, user.id, system=True)
    if data.app_cred is not None:
        allowed = assignments.expand_implied(db, set(data.app_cred.role_ids))
        data.roles = [r for r in data.roles if r.id in allowed]
    # domain-specific roles only lend the global roles they imply: they never appear in a token (as in Keystone)
    data.roles = [r for r in data.roles if not r.domain_id]
    scoped = payload.project_id or payload.domain_id or payload.system
    if scoped:
        if not data.roles:
            raise gone(f"User {user.id} has no role on the token's scope.")
        data.catalog = catalog.for_token(db, identity.settings.region,
                                         project_id=payload.project_id)
    return data


def context_for(identity: Identity, db: Session, token: str, request_id: str = "") -> Context:
    try:
        return validate(identity, db, token).context(request_id)
    except NotFound:
        raise Unauthorized() from None


def revoke(identity: Identity, db: Session, data: TokenData) -> None:
    revocations.revoke(db, audit_id=data.payload.audit_ids[0],
                       issued_before=to_datetime(data.payload.issued_at))
