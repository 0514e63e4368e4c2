"""Request bodies over ``max_request_body_size`` are refused before they are read: raw HTTP on a socket."""

from __future__ import annotations

import json
import socket
import time

LIMIT = 114_688  # Keystone's max_request_body_size, Kumo's default


def _connect(cloud) -> socket.socket:
    host, port = cloud.url.split("//", 1)[1].split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _response(sock: socket.socket) -> tuple[int, dict, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before the answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return int(lines[0].split()[1]), headers, body[:length]


def _request_head(path: str, extra: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{extra}\r\n").encode()


def test_a_declared_length_over_the_limit_is_refused_before_the_body(cloud):
    """413 from ``Content-Length`` alone: the client has sent no byte of its (10 MB) body."""
    with _connect(cloud) as sock:
        started = time.monotonic()
        sock.sendall(_request_head("/identity/v3/auth/tokens", "Content-Length: 10000000\r\n"))
        status, headers, body = _response(sock)
        assert status == 413, body
        assert time.monotonic() - started < 5
        assert headers["x-openstack-request-id"].startswith("req-")
        assert json.loads(body) == {"error": {"code": 413, "title": "Request Entity Too Large",
                                              "message": "Request is too large."}}


def test_a_chunked_body_is_cut_off_once_over_the_limit(cloud, admin):
    """Chunked (no length): read until the limit is passed, then 413, though the client never finishes."""
    with _connect(cloud) as sock:
        sock.sendall(_request_head("/identity/v3/projects", f"X-Auth-Token: {admin.headers['X-Auth-Token']}\r\n"
                                                            "Transfer-Encoding: chunked\r\n"))
        chunk = b'{"project": {"name": "big", "description": "' + b"d" * 16_000
        sent = 0
        while sent <= LIMIT:
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
            chunk = b"d" * 16_000
        # no terminating chunk: the server must answer anyway
        status, _, body = _response(sock)
        assert status == 413, body
        assert json.loads(body)["error"]["code"] == 413
    assert admin.get("/identity/v3/projects", params={"name": "big"}).json()["projects"] == []


def test_a_body_within_the_limit_is_served(cloud, admin):
    """Just under the limit, chunked and with a length: read whole and handled (a 400 for the long field)."""
    payload = json.dumps({"project": {"name": "x" * 300, "description": "d" * (LIMIT - 400)}}).encode()
    assert len(payload) <= LIMIT
    with _connect(cloud) as sock:
        token = admin.headers["X-Auth-Token"]
        sock.sendall(_request_head("/identity/v3/projects", f"X-Auth-Token: {token}\r\nContent-Length: "
                                                            f"{len(payload)}\r\n") + payload)
        status, _, body = _response(sock)
        assert status == 400, body  # the schema's answer: the body was read and parsed
        half = len(payload) // 2
        sock.sendall(_request_head("/identity/v3/projects", f"X-Auth-Token: {token}\r\n"
                                                            "Transfer-Encoding: chunked\r\n")
                     + b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, payload[:half], len(payload) - half,
                                                               payload[half:]))
        status, _, body = _response(sock)
        assert status == 400, body
        assert b"Invalid input for field 'project.name'" in body
