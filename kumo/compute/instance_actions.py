"""``os-instance-actions``: what was asked of a server (by request id) and how each step went."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kumo.compute.models import InstanceAction
from kumo.db import utcnow
from kumo.errors import BadRequest, NotFound


def record(db: Session, server_id: str, action: str, request_id: str, project_id: str, user_id: str,
           finished: bool = False) -> None:
    """Note an action; ``finished`` for those done within the request itself (lock, unlock …)."""
    now = utcnow()
    db.add(InstanceAction(server_id=server_id, action=action, request_id=request_id, project_id=project_id,
                          user_id=user_id, start_time=now, finish_time=now if finished else None))


def list_(db: Session, server_id: str, *, limit: int | None = None, marker: str | None = None,
          changes_since=None, changes_before=None) -> list[InstanceAction]:
    """Newest first; ``marker`` a request id (2.58), ``changes_since``/``changes_before`` bound ``updated_at``."""
    found = list(db.scalars(sa.select(InstanceAction).where(InstanceAction.server_id == server_id)
                            .order_by(InstanceAction.start_time.desc(), InstanceAction.id.desc())))
    if marker is not None:
        index = next((i for i, a in enumerate(found) if a.request_id == marker), None)
        if index is None:
            raise BadRequest(f"Marker {marker} could not be found.")
        found = found[index + 1:]
    found = [a for a in found if (changes_since is None or a.updated_at >= changes_since)
             and (changes_before is None or a.updated_at <= changes_before)]
    return found if limit is None else found[:limit]


def get(db: Session, server_id: str, request_id: str) -> InstanceAction:
    action = db.scalar(sa.select(InstanceAction).where(InstanceAction.server_id == server_id,
                                                       InstanceAction.request_id == request_id)
                       .order_by(InstanceAction.id.desc()).limit(1))
    if action is None:
        raise NotFound(f"Action for request_id {request_id} on instance {server_id} not found")
    return action


def current(db: Session, server_id: str) -> InstanceAction | None:
    """The newest unfinished action: the one the worker is carrying out."""
    return db.scalar(sa.select(InstanceAction).where(InstanceAction.server_id == server_id,
                                                     InstanceAction.finish_time.is_(None))
                     .order_by(InstanceAction.id.desc()).limit(1))


def finish_event(db: Session, server_id: str, event: str, error: str | None = None, started=None) -> None:
    """Record ``event`` as done (begun at ``started``, else now) on the current action, and close the
    action. The worker writes an event once, when it ends: one write transaction per task, not two."""
    action = current(db, server_id)
    if action is None:
        return
    now = utcnow()
    events = [dict(e) for e in action.events]
    for item in reversed(events):
        if item["event"] == event and item["finish_time"] is None:
            break
    else:
        item = {"event": event, "start_time": (started or now).isoformat(), "traceback": None}
        events.append(item)
    item.update(finish_time=now.isoformat(), result="Error" if error else "Success", traceback=error)
    action.events = events
    action.finish_time = now
    action.updated_at = now
    if error:
        action.message = "Error"


def finish_all(db: Session, server_id: str) -> None:
    """Actions that complete in the API itself (lock, metadata …) or that a delete overtook."""
    db.execute(sa.update(InstanceAction).where(InstanceAction.server_id == server_id,
                                               InstanceAction.finish_time.is_(None))
               .values(finish_time=utcnow()))


def forget(db: Session, server_id: str) -> None:
    db.execute(sa.delete(InstanceAction).where(InstanceAction.server_id == server_id))
