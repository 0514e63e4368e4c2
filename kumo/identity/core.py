"""The identity service's state that outlives a request: settings, token keys, the password hasher."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.config import Settings
from kumo.db import Database, utcnow
from kumo.errors import NotFound
from kumo.identity.cache import TokenCache
from kumo.identity.fernet import KeyRepository
from kumo.identity.passwords import Hasher

DEFAULT_DOMAIN_ID = "default"
SYSTEM_ALL = "all"


class Identity:
    def __init__(self, settings: Settings, db: Database):
        self.settings = settings
        self.db = db
        self.keys = KeyRepository(settings.data_dir / "fernet-keys", settings.max_active_keys)
        self.hasher = Hasher(settings.password_hash_time_cost, settings.password_hash_memory_kib)
        self.tokens = TokenCache()

    def setup(self) -> None:
        from kumo.identity.cache import ensure_counter

        self.keys.setup()
        with self.db.session() as db:
            ensure_counter(db)

    def authenticate(self, db: Session, token: str, request_id: str = ""):
        """Resolve ``X-Auth-Token`` to a caller context (raises Unauthorized)."""
        from kumo.identity import tokens
        return tokens.context_for(self, db, token, request_id)

    def token_lifetime(self) -> timedelta:
        return timedelta(seconds=self.settings.token_expiration)


def get_or_404(db: Session, model, ident: str | None, what: str):
    row = db.get(model, ident) if ident else None
    if row is None:
        raise NotFound.resource(what, ident)
    return row


def find_by_name(db: Session, model, name: str, domain_id: str, what: str):
    row = db.scalars(sa.select(model).where(model.name == name, model.domain_id == domain_id)).first()
    if row is None:
        raise NotFound.resource(what, name)
    return row


def is_expired(when: datetime | None, now: datetime | None = None) -> bool:
    return when is not None and when <= (now or utcnow())
