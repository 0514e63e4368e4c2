"""Revocation events: tokens issued before an event and matching all its fields are invalid.

Their number grows with revocations, not with tokens issued, and events
older than the longest token lifetime are pruned.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.db import utcnow
from kumo.identity.models import RevocationEvent


def revoke(db: Session, *, audit_id=None, user_id=None, project_id=None, domain_id=None,
           app_cred_id=None, issued_before: datetime | None = None) -> None:
    db.add(RevocationEvent(audit_id=audit_id, user_id=user_id, project_id=project_id, domain_id=domain_id,
                           app_cred_id=app_cred_id, issued_before=issued_before or utcnow()))


def is_revoked(db: Session, *, issued_at: datetime, audit_ids, user_id, project_id, domain_id,
               app_cred_id) -> bool:
    def field(column, value):
        return column.is_(None) if value is None else sa.or_(column.is_(None), column == value)

    audit = sa.or_(RevocationEvent.audit_id.is_(None), RevocationEvent.audit_id.in_(list(audit_ids)))
    query = sa.select(RevocationEvent.id).where(
        RevocationEvent.issued_before >= issued_at, audit,
        field(RevocationEvent.user_id, user_id), field(RevocationEvent.project_id, project_id),
        field(RevocationEvent.domain_id, domain_id), field(RevocationEvent.app_cred_id, app_cred_id),
    ).limit(1)
    return db.scalar(query) is not None


def prune_every(cloud, seconds: float = 3600) -> None:
    """Prune now, then every ``seconds`` while the cloud runs."""
    def job():
        with cloud.db.session() as db:
            prune(db, cloud.identity.token_lifetime())

    job()
    cloud.every(seconds, job, "revocation-prune")


def prune(db: Session, max_token_lifetime: timedelta) -> int:
    cutoff = utcnow() - max_token_lifetime - timedelta(minutes=5)
    return db.execute(sa.delete(RevocationEvent).where(RevocationEvent.issued_before < cutoff)).rowcount
