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
from starlette.routing import Route

from kumo.api.errors import Dialect
from kumo.context import ANONYMOUS, Context
from kumo.errors import (BadRequest, KumoError, PayloadTooLarge, Unauthorized,
                         UnsupportedMediaType)

log = logging.getLogger("kumo.api")

JSON = "application/json"


@dataclass
class Reply:
    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON


@dataclass
class Call:
    """What a handler sees of one request."""
    method: str
    path: str
    params: dict[str, str]
    query: Any  # starlette QueryParams: .get(), .getlist(), iteration
    headers: Any
    body: Any
    raw_body: bytes
    cloud: Any
    db: Any
    request_id: str
    url: str
    _token: str | None = None
    _ctx: Context | None = None
    stream: Iterator[bytes] | None = None  # body="stream": the body's chunks, read as they are consumed

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
    return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)


def error_response(err: KumoError, dialect: Dialect, request_id: str = "") -> Response:
    headers = {"x-openstack-request-id": request_id} if request_id else {}
    if err.status == 401:
        headers["WWW-Authenticate"] = 'Keystone uri="/identity"'
    return Response(dumps(dialect(err)), status_code=err.status, media_type=JSON, headers=headers)


class Router:
    """Routes of one service, declared with decorators."""

    def __init__(self, dialect: Dialect, max_body: Callable[[Any], int] | None = None):
        self.dialect = dialect
        self.routes: list[Route] = []
        self.max_body = max_body

    def route(self, path: str, methods: list[str], *, body: str = "json", write: bool | None = None):
        """``body``: "json" (parsed), "raw" (bytes, any media type), "stream" (``call.stream``, an iterator
        of chunks pulled from the client as the handler consumes it: any media type, no size limit; such a
        handler runs in a read transaction and opens its own short write transactions with
        ``call.cloud.db.session()``, since a stream may take minutes) or "none".
        ``write``: run in a write transaction (default: unless GET or HEAD, or a stream).
        A handler may return a ``Reply`` whose body is an iterator of bytes: it is streamed."""
        if write is None:
            write = body != "stream" and not set(methods) <= {"GET", "HEAD"}

        def register(handler: Callable[[Call], Any]):
            self.routes.append(Route(path, self._adapt(handler, body, write), methods=methods,
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

        async def endpoint(request: Request) -> Response:
            request_id = request.scope["state"]["request_id"]
            cloud = request.app.state.cloud
            try:
                raw = await request.body() if body_kind != "stream" else b""
                limit = cloud.settings.max_request_body_size
                if body_kind == "json" and len(raw) > limit:
                    raise PayloadTooLarge("Request is too large.")
                parsed = _parse_json(request, raw) if body_kind == "json" else None
                call = Call(method=request.method, path=request.url.path, params=dict(request.path_params),
                            query=request.query_params, headers=request.headers, body=parsed, raw_body=raw,
                            cloud=cloud, db=None, request_id=request_id, url=str(request.url),
                            _token=request.headers.get("x-auth-token"),
                            stream=_chunks(request) if body_kind == "stream" else None)
                reply = await run_in_threadpool(_run, handler, call, write)
            except KumoError as err:
                if err.status >= 500:
                    log.error("%s %s failed: %s", request.method, request.url.path, err.message)
                response = error_response(err, dialect, request_id)
            else:
                response = _render(reply, request_id)
            response.headers.update(self.response_headers(request_id))
            return response

        endpoint.__name__ = handler.__name__
        return endpoint


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
