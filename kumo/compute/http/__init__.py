"""Nova v2.1 over HTTP, mounted at ``/compute`` (catalog: ``…/compute/v2.1``)."""

from kumo.api.service import ServiceInfo
from kumo.compute.http import (  # noqa: F401
                               flavors,
                               images,
                               interfaces,
                               keypairs,
                               misc,
                               quotas,
                               security_groups,
                               server_actions,
                               server_groups,
                               server_meta,
                               servers,
                               volume_attachments,
)
from kumo.compute.http.common import add_legacy_routes, router
from kumo.compute.manager import on_start

add_legacy_routes()  # last: /v2.1/{project_id}/… is tried only when nothing else matched


def counts(db) -> dict:
    """Servers by state, e.g. ``{"servers": {"active": 2, "error": 1}}``."""
    import sqlalchemy as sa

    from kumo.compute.models import Server
    state = Server.vm_state
    rows = db.execute(sa.select(state, sa.func.count()).group_by(state).order_by(state))
    return {"servers": dict(rows.all())}


SERVICE = ServiceInfo.of(__name__, router, on_start=on_start, counts=counts)
