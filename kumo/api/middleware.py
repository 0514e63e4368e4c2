"""ASGI middleware: a request id on every response, and one access-log line per request."""

from __future__ import annotations

import logging
import time
import uuid

log = logging.getLogger("kumo.access")


class RequestIdMiddleware:
    """Gives each request an ``x-openstack-request-id`` (``req-<uuid>``) and logs it when done."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = f"req-{uuid.uuid4()}"
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 0

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-openstack-request-id" for k, _ in headers):
                    headers.append((b"x-openstack-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if log.isEnabledFor(logging.INFO):
                path = scope["path"] + ("?" + scope["query_string"].decode() if scope.get("query_string") else "")
                log.info("%s %s %s %d %.1fms", request_id, scope["method"], path, status,
                         (time.perf_counter() - started) * 1000)
