"""Keystone v3 over HTTP, mounted at ``/identity``."""

from kumo.api.service import ServiceInfo
from kumo.identity.http import auth, domains, projects, roles, users, versions  # noqa: F401
from kumo.identity.http import app_credentials  # noqa: F401
from kumo.identity.http import assignments, endpoints, groups, regions, services  # noqa: F401
from kumo.identity.http.common import router

SERVICE = ServiceInfo(type="identity", name="keystone", prefix="/identity", router=router,
                      description="Kumo identity (Keystone v3)")
