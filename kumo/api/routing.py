"""Declaring a service's routes, and the adapter that runs each handler.

A handler is a plain function ``handler(call) -> dict | Reply``. The adapter
reads and checks the body, opens a unit of work (a read transaction for
GET/HEAD, a write transaction otherwise), resolves the caller from
``X-Auth-Token``, runs the handler in a worker thread, and renders the reply
or the error in the service's dialect.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Callable

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Match, Route
from starlette.routing import Router as StarletteRouter

from kumo.api.errors import Dialect
from kumo.context import ANONYMOUS, Context
from kumo.errors import (
    BadRequest,
    KumoError,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)

log = logging.getLogger("kumo.api")

JSON = "application/json"


@dataclass
class Reply:
    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON


class Call:
    """What a handler sees of one request."""

    __slots__ = (
        "_ctx",
        "_request",
        "_token",
        "body",
        "cloud",
        "db",
        "headers",
        "method",
        "params",
        "path",
        "query",
        "raw_body",
        "request_id",
        "stream",
    )

    def __init__(self, *, method: str, path: str, params: dict[str, str], query: Any, headers: Any, body: Any,
                 raw_body: bytes, cloud: Any, db: Any, request_id: str, request: Request | None = None,
                 _token: str | None = None, stream: Iterator[bytes] | None = None):
        self.method, self.path, self.params, self.query, self.headers = method, path, params, query, headers
        self.body, self.raw_body, self.cloud, self.db, self.request_id = body, raw_body, cloud, db, request_id
        self._request, self._token, self._ctx = request, _token, None
        # body="stream": the body's chunks, read as they are consumed
        self.stream = stream

    @property
    def url(self) -> str:
        """The request's full URL (query string included)."""
        return str(self._request.url) if self._request is not None else self.path

    @property
    def ctx(self) -> Context:
        """The caller; resolved on first use. Handlers that need a caller read this."""
        if self._ctx is None:
            if not self._token:
                raise Unauthorized()
            self._ctx = self.cloud.identity.authenticate(self.db, self._token, self.request_id)
        return self._ctx

    @property
    def maybe_ctx(self) -> Context:
        try:
            return self.ctx
        except Unauthorized:
            return ANONYMOUS


def dumps(body: Any) -> bytes:
    try:  # non-string keys are rare, and allowing them makes orjson several times slower
        return orjson.dumps(body)
    except TypeError:
        return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)


def error_response(err: KumoError, dialect: Dialect, request_id: str = "") -> Response:
    headers = {"x-openstack-request-id": request_id} if request_id else {}
    if err.status == 401:
        headers["WWW-Authenticate"] = 'Keystone uri="/identity"'
    return Response(dumps(dialect(err)), status_code=err.status, media_type=JSON, headers=headers)


class Router:
    """Routes of one service, declared with decorators.

    ``inline_reads``: run GET and HEAD handlers on the event loop instead of a worker thread (the hop there
    and back is a good part of a short request's cost). Only for a service whose reads never wait long:
    no driver or subprocess, no lock (identity's, which read the database and the token cache)."""

    def __init__(self, dialect: Dialect, max_body: Callable[[Any], int] | None = None, inline_reads: bool = False):
        self.dialect = dialect
        self.routes: list[Route] = []
        self.max_body = max_body
        self.inline_reads = inline_reads
        self._inline: set = set()  # handlers run on the event loop

    def route(self, path: str, methods: list[str], *, body: str = "json", write: bool | None = None):
        """``body``: "json" (parsed), "raw" (bytes, any media type), "stream" (``call.stream``, an iterator
        of chunks pulled from the client as the handler consumes it: any media type, no size limit; such a
        handler runs in a read transaction and opens its own short write transactions with
        ``call.cloud.db.session()``, since a stream may take minutes) or "none".
        ``write``: run in a write transaction (default: unless GET or HEAD, or a stream).
        A handler may return a ``Reply`` whose body is an iterator of bytes: it is streamed.
        Every body but a stream is limited to ``max_request_body_size`` (413), checked on ``Content-Length``
        before reading and while reading."""
        if write is None:
            write = body != "stream" and not set(methods) <= {"GET", "HEAD"}
        inline = self.inline_reads and not write and body != "stream" and set(methods) <= {"GET", "HEAD"}

        def register(handler: Callable[[Call], Any]):
            if inline:
                self._inline.add(handler)
            self.routes.append(Route(path, _Endpoint(self._adapt(handler, body, write)), methods=methods,
                                     name=handler.__module__ + "." + handler.__name__))
            return handler
        return register

    def response_headers(self, request_id: str) -> dict[str, str]:
        """Headers this service puts on every reply, errors and unknown paths included (beyond
        ``x-openstack-request-id``); a service's router overrides it, e.g. Nova's ``x-compute-request-id``."""
        return {}

    def get(self, path: str):
        return self.route(path, ["GET"])

    def post(self, path: str, **kw):
        return self.route(path, ["POST"], **kw)

    def put(self, path: str, **kw):
        return self.route(path, ["PUT"], **kw)

    def patch(self, path: str, **kw):
        return self.route(path, ["PATCH"], **kw)

    def delete(self, path: str):
        return self.route(path, ["DELETE"])

    def head(self, path: str):
        return self.route(path, ["HEAD"])

    def _adapt(self, handler, body_kind: str, write: bool):
        dialect = self.dialect
        inline = handler in self._inline
        extra_headers = type(self).response_headers is not Router.response_headers

        async def endpoint(request: Request) -> Response:
            scope = request.scope
            request_id = scope["state"]["request_id"]
            cloud = scope["app"].state.cloud
            try:
                raw = b"" if body_kind == "stream" else \
                    await _read_body(request, cloud.settings.max_request_body_size)
                parsed = _parse_json(request, raw) if body_kind == "json" else None
                call = Call(method=scope["method"], path=scope["path"], params=scope.get("path_params", {}),
                            query=request.query_params, headers=request.headers, body=parsed, raw_body=raw,
                            cloud=cloud, db=None, request_id=request_id, request=request,
                            _token=request.headers.get("x-auth-token"),
                            stream=_chunks(request) if body_kind == "stream" else None)
                if inline:
                    reply = _run(handler, call, write)
                else:
                    reply = await run_in_threadpool(_run, handler, call, write)
            except KumoError as err:
                if err.status >= 500:
                    log.error("%s %s failed: %s", scope["method"], scope["path"], err.message)
                response = error_response(err, dialect, request_id)
            else:
                response = _render(reply, request_id)
            if extra_headers:
                response.headers.update(self.response_headers(request_id))
            return response

        endpoint.__name__ = handler.__name__
        return endpoint


class _Endpoint:
    """A route's endpoint as a plain ASGI app (Starlette then routes to it without wrapping each request)."""

    __slots__ = ("endpoint",)

    def __init__(self, endpoint):
        self.endpoint = endpoint

    async def __call__(self, scope, receive, send):
        response = await self.endpoint(Request(scope, receive, send))
        await response(scope, receive, send)


class Dispatcher(StarletteRouter):
    """Starlette's router over a service's routes, trying only those whose literal beginning (the path up to
    its first ``{``) fits the request's path: a service has about a hundred routes, and matching each one's
    pattern in turn was a good part of a short request. The first route that matches wins, as in Starlette;
    a route matching all but the method answers 405; no route, ``default``."""

    _MAX_KEYS = 4096

    def __init__(self, routes, default):
        super().__init__(routes=routes, default=default, redirect_slashes=False)
        self._literals = [(route, getattr(route, "path", "").split("{", 1)[0]) for route in self.routes]
        self._by_key: dict[str, list] = {}

    def _candidates(self, path: str) -> list:
        # the key: the path up to its third "/" ("/v3/projects/"); ids come later, so keys are few
        cut = -1
        for _ in range(3):
            cut = path.find("/", cut + 1)
            if cut < 0:
                break
        whole = cut < 0  # the key is the whole path: a longer literal cannot fit it
        key = path if whole else path[:cut + 1]
        found = self._by_key.get(key)
        if found is None:
            found = [route for route, literal in self._literals
                     if (key.startswith(literal) if len(literal) <= len(key)
                         else not whole and literal.startswith(key))]
            if len(self._by_key) < self._MAX_KEYS:
                self._by_key[key] = found
        return found

    async def app(self, scope, receive, send):
        if scope["type"] != "http":
            return await super().app(scope, receive, send)
        scope.setdefault("router", self)
        partial = partial_scope = None
        for route in self._candidates(_route_path(scope)):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope["route"] = route
                scope.update(child_scope)
                return await route.handle(scope, receive, send)
            if match is Match.PARTIAL and partial is None:
                partial, partial_scope = route, child_scope
        if partial is not None:
            scope["route"] = partial
            scope.update(partial_scope)
            return await partial.handle(scope, receive, send)
        await self.default(scope, receive, send)


def _route_path(scope) -> str:
    """The path below the mount point (``root_path``), as Starlette's routes match it."""
    path, root = scope["path"], scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    rest = path[len(root):]
    return rest if rest.startswith("/") or not rest else path


async def _read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it is known to exceed ``limit``: from ``Content-Length``
    before reading anything, else (chunked) while reading."""
    length = request.headers.get("content-length")
    if length is not None and length.strip().isdigit() and int(length) > limit:
        raise PayloadTooLarge("Request is too large.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge("Request is too large.")
        chunks.append(chunk)
    return b"".join(chunks)


def _run(handler, call: Call, write: bool):
    with call.cloud.db.session(write=write) as session:
        call.db = session
        return handler(call)


def _chunks(request: Request) -> Iterator[bytes]:
    """The request body, read from the event loop chunk by chunk for a handler in a worker thread."""
    from anyio import from_thread

    source = request.stream()

    async def next_chunk():
        try:
            return await source.__anext__()
        except StopAsyncIteration:
            return None

    while (chunk := from_thread.run(next_chunk)) is not None:
        if chunk:
            yield chunk


def _parse_json(request: Request, raw: bytes):
    if not raw.strip():
        return None
    ctype = request.headers.get("content-type", JSON).split(";")[0].strip().lower()
    if ctype not in (JSON, "", "application/openstack-images-v2.1-json-patch",
                     "application/openstack-images-v2.0-json-patch",
                     "application/json-patch+json") and not ctype.endswith("+json"):
        raise UnsupportedMediaType(f"Unsupported Content-Type: {ctype}")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("Malformed request body: the body is not valid JSON.") from None


def _render(reply, request_id: str) -> Response:
    if not isinstance(reply, Reply):
        reply = Reply(reply)
    headers = {"x-openstack-request-id": request_id, **reply.headers}
    if isinstance(reply.body, Iterator):
        return StreamingResponse(reply.body, status_code=reply.status, headers=headers,
                                 media_type=reply.content_type)
    if reply.body is None:
        return Response(status_code=reply.status, headers=headers,
                        media_type=None if reply.status in (204, 304) else reply.content_type)
    content = reply.body if isinstance(reply.body, (bytes, str)) else dumps(reply.body)
    return Response(content, status_code=reply.status, headers=headers, media_type=reply.content_type)
