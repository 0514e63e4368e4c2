"""Assembling the cloud: settings, store, services, and the ASGI application that serves them."""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount, Router as StarletteRouter

from kumo import __version__, backends
from kumo.api import errors as error_dialects
from kumo.api.middleware import RequestIdMiddleware
from kumo.api.routing import Router, error_response
from kumo.api.service import ServiceInfo
from kumo.config import Settings
from kumo.db import Database
from kumo.errors import MethodNotAllowed, NotFound
from kumo.identity.core import Identity
from kumo.workers import InProcessQueue

log = logging.getLogger("kumo")


class Cloud:
    """Everything that outlives a request."""

    def __init__(self, settings: Settings):
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(settings.database)
        self.identity = Identity(settings, self.db)
        self.first_start_credentials = None
        self.backend = backends.detect(settings.backend)
        self.workers = InProcessQueue()
        self._stopping = threading.Event()
        self._timers: list[threading.Thread] = []

    def every(self, seconds: float, job: Callable[[], None], name: str) -> None:
        """Run ``job`` every ``seconds`` on a daemon thread until ``close()`` (errors are logged, not fatal)."""
        def loop():
            while not self._stopping.wait(seconds):
                try:
                    job()
                except Exception:
                    log.exception("periodic job %s failed", name)

        timer = threading.Thread(target=loop, name=f"kumo-{name}", daemon=True)
        self._timers.append(timer)
        timer.start()

    def setup(self) -> None:
        """Migrate the schema, load keys, bootstrap on first start, register the catalog."""
        from kumo.identity import bootstrap, catalog

        self.db.upgrade()
        self.identity.setup()
        with self.db.session() as db:
            if bootstrap.needed(db):
                self.first_start_credentials = bootstrap.run(self.identity, db)
            for service in services():
                catalog.register(db, type=service.type, name=service.name,
                                 url=self.settings.base_url + service.prefix + service.catalog_suffix,
                                 region=self.settings.region, description=service.description)
        for service in services():
            if service.on_start:
                service.on_start(self)
        self.workers.start()

    def close(self) -> None:
        self._stopping.set()
        for timer in self._timers:
            timer.join(timeout=5)
        self.workers.stop()
        self.db.dispose()


# Each OpenStack service is a package whose ``http`` module declares ``SERVICE``.
SERVICE_MODULES = ["kumo.identity.http", "kumo.network.http", "kumo.image.http", "kumo.volume.http",
                   "kumo.compute.http"]


def services() -> list[ServiceInfo]:
    return [importlib.import_module(name).SERVICE for name in SERVICE_MODULES]


def _service_router(router: Router) -> StarletteRouter:
    """A service's routes; unknown paths get a 404 in the service's own error dialect."""
    async def not_found(scope, receive, send):
        request_id = scope.get("state", {}).get("request_id", "")
        response = error_response(NotFound("The resource could not be found."), router.dialect, request_id)
        response.headers.update(router.response_headers(request_id))
        await response(scope, receive, send)

    return StarletteRouter(routes=router.routes, default=not_found, redirect_slashes=False)


def healthz(request: Request):
    from starlette.responses import JSONResponse

    cloud = request.app.state.cloud
    backend = getattr(cloud, "backend", None)
    return JSONResponse({"status": "ok", "version": __version__, "services": [s.type for s in services()],
                         "backend": backend.name if backend else None})


def build_app(cloud: Cloud) -> Starlette:
    from starlette.routing import Route

    mounted = {service.prefix: service for service in services()}

    async def method_not_allowed(request, exc):
        prefix = "/" + request.url.path.lstrip("/").split("/", 1)[0]
        service = mounted.get(prefix)
        dialect = service.router.dialect if service else error_dialects.keystone
        request_id = request.scope["state"]["request_id"]
        response = error_response(MethodNotAllowed(), dialect, request_id)
        if service:
            response.headers.update(service.router.response_headers(request_id))
        return response

    async def not_found(request, exc):  # outside every service: Keystone's body, as at the root
        return error_response(NotFound("The resource could not be found."), error_dialects.keystone,
                              request.scope["state"]["request_id"])

    routes = [Route("/healthz", healthz)]
    for prefix, service in mounted.items():
        app = _service_router(service.router)
        routes.append(Route(prefix, _AtPath(app, "/")))  # "/identity" as well as "/identity/"
        routes.append(Mount(prefix, app=app))
    # the root answers like the identity endpoint does (version discovery), as on a DevStack
    routes.append(Route("/", _AtPath(_service_router(mounted["/identity"].router), "/")))
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: method_not_allowed})
    app.state.cloud = cloud
    return RequestIdMiddleware(_with_state(app, cloud))


class _AtPath:
    """Serve another app's route from here (an ASGI app, so Starlette passes the raw scope)."""

    def __init__(self, app, path: str):
        self.app, self.path = app, path

    async def __call__(self, scope, receive, send):
        await self.app(dict(scope, path=self.path), receive, send)


def _with_state(app: Starlette, cloud: Cloud):
    app.state.cloud = cloud
    return app
