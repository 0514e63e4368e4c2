"""uvicorn's HTTP protocol, writing each reply in one send.

uvicorn writes a reply's status line and headers when the application sends ``http.response.start`` and the
body when it sends ``http.response.body``: two ``send`` system calls (on loopback each also runs the
receiver's side of TCP), for a short reply a good part of its cost. Here the connection's transport gathers
what one turn of the event loop writes and sends it at once at the end of that turn.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _GatheringTransport:
    """The connection's transport: ``write`` is gathered until the event loop's next turn; ``close`` sends
    what is gathered first; everything else is the transport's own."""

    __slots__ = ("_transport", "_loop", "_pending")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._transport, self._loop, self._pending = transport, loop, None

    def write(self, data: bytes) -> None:
        if self._pending is None:
            self._pending = [data]
            self._loop.call_soon(self._flush)
        else:
            self._pending.append(data)

    def _flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending:
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name):
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a gathering transport (``uvicorn.Config(http=HttpProtocol)``)."""

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(_GatheringTransport(transport, self.loop))
