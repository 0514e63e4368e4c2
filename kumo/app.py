"""Assembling the cloud: settings, store, services, and the ASGI application that serves them."""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
from collections.abc import Callable

from sqlalchemy.orm import configure_mappers
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount

from kumo import __version__, backends
from kumo.api import errors as error_dialects
from kumo.api.middleware import RequestIdMiddleware
from kumo.api.routing import Dispatcher, Router, error_response
from kumo.api.service import ServiceInfo
from kumo.config import Settings
from kumo.db import Base, Database
from kumo.errors import KumoError, MethodNotAllowed, NotFound
from kumo.identity.core import Identity
from kumo.services import DECLARED, IDENTITY
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
        # the services answering requests, by module; identity's from ``setup_identity``, the others
        # together once ``start_services`` has run all their ``on_start`` (requests to them wait until then)
        self.serving: dict[str, ServiceInfo] = {}
        self.started = threading.Event()
        self.start_error: BaseException | None = None

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
        """Everything a start does, in one go (``kumo serve`` answers identity requests in between)."""
        self.setup_identity()
        self.start_services()

    def setup_identity(self) -> None:
        """What the identity API needs to answer: its tables, the token keys, the bootstrap on a first start,
        and the whole catalog (``kumo.services`` declares it; the services themselves load later)."""
        from kumo.identity import bootstrap, catalog

        state = self.db.schema_state()
        if state == "behind":
            self.db.upgrade()  # migrations: every model, Alembic (rare: after an upgrade of Kumo)
        elif state == "new":  # identity's tables now (the models loaded so far), the others in start_services
            self.db.create_schema(tables=list(Base.metadata.tables.values()))
        self.identity.setup()
        with self.db.session() as db:
            if bootstrap.needed(db):
                self.first_start_credentials = bootstrap.run(self.identity, db)
            for entry in DECLARED:
                catalog.register(db, type=entry.type, name=entry.name,
                                 url=self.settings.base_url + entry.prefix + entry.catalog_suffix,
                                 region=self.settings.region, description=entry.description)
        self.serving[IDENTITY] = importlib.import_module(IDENTITY).SERVICE

    def start_services(self) -> None:
        """Load every service, complete a new schema, run each ``on_start`` (drivers, worker topics, recovery,
        periodic jobs, builtin images), start the workers; then every service serves (``started``)."""
        try:
            loaded = {entry.module: importlib.import_module(entry.module).SERVICE for entry in DECLARED}
            configure_mappers()  # here, not in a request's first query
            self.db.upgrade()
            for service in loaded.values():
                if service.on_start:
                    service.on_start(self)
            self.workers.start()
            self.serving.update(loaded)
            self.started.set()
        except BaseException as exc:
            self.start_error = exc
            raise

    def close(self) -> None:
        self._stopping.set()
        for timer in self._timers:
            timer.join(timeout=5)
        self.workers.stop()
        self.db.dispose()


def services() -> list[ServiceInfo]:
    return [importlib.import_module(entry.module).SERVICE for entry in DECLARED]


def _service_router(router: Router) -> Dispatcher:
    """A service's routes; unknown paths get a 404 in the service's own error dialect."""
    async def not_found(scope, receive, send):
        request_id = scope.get("state", {}).get("request_id", "")
        response = error_response(NotFound("The resource could not be found."), router.dialect, request_id)
        response.headers.update(router.response_headers(request_id))
        await response(scope, receive, send)

    return Dispatcher(router.routes, default=not_found)


def healthz(request: Request):
    """200 once every service serves; 503 while starting (identity answers already) or if the start failed."""
    from starlette.responses import JSONResponse

    cloud = request.app.state.cloud
    backend = getattr(cloud, "backend", None)
    status = "ok" if cloud.started.is_set() else "failed" if cloud.start_error else "starting"
    return JSONResponse({"status": status, "version": __version__,
                         "services": [entry.type for entry in DECLARED],
                         "backend": backend.name if backend else None}, status_code=200 if status == "ok" else 503)


class _Unavailable(KumoError):
    status = 503
    title = "Service Unavailable"
    kind = "ServiceUnavailable"


class _ServiceApp:
    """A service's routes, mounted before the service is loaded: a request that comes while the cloud is
    starting waits until the service serves (identity serves at once; the others after their ``on_start``)."""

    def __init__(self, cloud: Cloud, module: str, path: str | None = None):
        self.cloud, self.module, self.path = cloud, module, path
        self.app = None

    async def __call__(self, scope, receive, send):
        if self.app is None:
            service = self.cloud.serving.get(self.module)
            while service is None and self.cloud.start_error is None:
                await asyncio.sleep(0.01)
                service = self.cloud.serving.get(self.module)
            if service is None:
                response = error_response(_Unavailable("The cloud failed to start."), error_dialects.keystone,
                                          scope["state"]["request_id"])
                return await response(scope, receive, send)
            self.app = _service_router(service.router)
        if self.path is not None:  # "/identity" as well as "/identity/"
            scope = dict(scope, path=self.path)
        await self.app(scope, receive, send)


def build_app(cloud: Cloud) -> Starlette:
    from starlette.routing import Route

    prefixes = {entry.prefix: entry.module for entry in DECLARED}

    async def method_not_allowed(request, exc):
        prefix = "/" + request.url.path.lstrip("/").split("/", 1)[0]
        service = cloud.serving.get(prefixes.get(prefix, ""))
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
    for prefix, module in prefixes.items():
        routes.append(Route(prefix, _ServiceApp(cloud, module, "/")))
        routes.append(Mount(prefix, app=_ServiceApp(cloud, module)))
    # the root answers like the identity endpoint does (version discovery), as on a DevStack
    routes.append(Route("/", _ServiceApp(cloud, IDENTITY, "/")))
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: method_not_allowed})
    app.state.cloud = cloud
    return RequestIdMiddleware(app)
