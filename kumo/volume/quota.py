"""Cinder's quotas on top of ``kumo.quotas``: its resource names, defaults and over-quota errors (413)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kumo import quotas
from kumo.errors import BadRequest, KumoError

# Cinder's quota names → Kumo's resource names; defaults as Cinder ships them
RESOURCES = {"volumes": "volume.volumes", "snapshots": "volume.snapshots", "gigabytes": "volume.gigabytes",
             "backups": "volume.backups", "backup_gigabytes": "volume.backup_gigabytes",
             "per_volume_gigabytes": "volume.per_volume_gigabytes", "groups": "volume.groups"}
DEFAULTS = {"volume.volumes": 10, "volume.snapshots": 10, "volume.gigabytes": 1000, "volume.backups": 10,
            "volume.backup_gigabytes": 1000, "volume.per_volume_gigabytes": -1, "volume.groups": 10}


class QuotaExceeded(KumoError):
    """Cinder answers an exceeded quota with 413 (``overLimit``)."""
    status = 413
    title = "Request Entity Too Large"
    kind = "OverQuota"


def _message(err: quotas.OverQuota) -> str:
    if err.resource == "volume.gigabytes":
        return ("VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. "
                f"Requested {err.requested}G, quota is {err.limit}G and {err.in_use}G has been consumed.")
    if err.resource == "volume.snapshots":
        return f"SnapshotLimitExceeded: Maximum number of snapshots allowed ({err.limit}) exceeded"
    return (f"VolumeLimitExceeded: Maximum number of volumes allowed ({err.limit}) exceeded for quota "
            f"'{err.resource.split('.', 1)[1]}'.")


def reserve(db: Session, project_id: str, *, volumes: int = 0, snapshots: int = 0, gigabytes: int = 0,
            size: int | None = None) -> None:
    """Count new usage in the creating transaction; QuotaExceeded (413) leaves usage untouched."""
    if size is not None:
        per_volume = limit(db, project_id, "per_volume_gigabytes")
        if per_volume != quotas.UNLIMITED and size > per_volume:
            raise QuotaExceeded(f"VolumeSizeExceedsLimit: Requested volume size {size}G is larger than "
                                f"maximum allowed limit {per_volume}G.")
    amounts = {"volume.volumes": volumes, "volume.snapshots": snapshots, "volume.gigabytes": gigabytes}
    try:
        quotas.reserve(db, project_id, {k: v for k, v in amounts.items() if v}, DEFAULTS)
    except quotas.OverQuota as err:
        raise QuotaExceeded(_message(err)) from None


def release(db: Session, project_id: str, *, volumes: int = 0, snapshots: int = 0, gigabytes: int = 0) -> None:
    amounts = {"volume.volumes": volumes, "volume.snapshots": snapshots, "volume.gigabytes": gigabytes}
    quotas.release(db, project_id, {k: v for k, v in amounts.items() if v})


def limit(db: Session, project_id: str, name: str) -> int:
    return quotas.limit(db, project_id, RESOURCES[name], DEFAULTS)


def usage(db: Session, project_id: str, name: str) -> int:
    return quotas.usage(db, project_id, RESOURCES[name])


def quota_set(db: Session, project_id: str, *, usage_too: bool = False, defaults: bool = False) -> dict:
    result = {}
    for name, resource in RESOURCES.items():
        hard = quotas.limit(db, "", resource, DEFAULTS) if defaults else limit(db, project_id, name)
        if usage_too:
            result[name] = {"limit": hard, "in_use": quotas.usage(db, project_id, resource), "reserved": 0}
        else:
            result[name] = hard
    return result


def update(db: Session, project_id: str, values: dict) -> None:
    for name, value in values.items():
        if name not in RESOURCES:
            raise BadRequest(f"Bad key(s) in quota set: {name}")
        if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).lstrip("-").isdigit():
            raise BadRequest(f"Invalid input for field/attribute {name}. Value: {value}. "
                             "It must be an integer.")
        value = int(value)
        if value < -1:
            raise BadRequest(f"Invalid input for field/attribute {name}. Value: {value}. "
                             "Quota limit must be -1 or greater.")
        if name in ("volumes", "snapshots", "gigabytes") and value != -1 and value < usage(db, project_id, name):
            raise BadRequest(f"Invalid input received: Quota limit {value} for {name} must be equal or "
                             f"greater than existing resources ({usage(db, project_id, name)}).")
        quotas.set_limit(db, project_id, RESOURCES[name], value)


def reset(db: Session, project_id: str) -> None:
    quotas.reset_limits(db, project_id, RESOURCES.values())
