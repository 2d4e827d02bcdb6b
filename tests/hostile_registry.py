"""A registry (or proxy, or token service) that misbehaves on purpose, for the tests of the registry probe.

Real registries (Debian `docker-registry`, tests/registry_server.py) cover the normal paths; this server
covers what they never do: drip one byte every few seconds into the status line, the headers or the
body; redirect to another origin; answer 200 without a digest or with text/html; serve an index with
NaN; send a body larger than any manifest. Raw sockets, so that every byte on the wire is chosen here.

It listens on 127.0.0.1 only (port 0: the kernel picks one), optionally over TLS, and RECORDS every
request it receives (method, path, headers, body) so that a test can assert where each credential went.
Nothing here needs pytest: the benchmarks may import it.
"""

from __future__ import annotations

import json
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Self

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DIGEST = "sha256:" + "0" * 64
MANIFEST_HEADERS = {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": DIGEST}
REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 303: "See Other", 307: "Temporary Redirect",
           308: "Permanent Redirect", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           429: "Too Many Requests", 500: "Internal Server Error"}


@dataclass
class Request:
    """One request as received. Header names keep their case in `raw_headers`; `headers` is lowercased."""

    method: str
    path: str
    raw_headers: list[tuple[str, str]]
    body: bytes = b""
    on_connection: int = 0  # how many requests its connection carried before this one

    @property
    def headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.raw_headers}

    def carries(self, secret: str | bytes) -> bool:
        """Whether `secret` is anywhere in what this request sent (request line, headers, body)."""
        needle = secret.encode() if isinstance(secret, str) else secret
        wire = f"{self.method} {self.path}\r\n".encode() + b"".join(
            f"{k}: {v}\r\n".encode("latin-1", "replace") for k, v in self.raw_headers) + self.body
        return needle in wire


@dataclass
class Answer:
    """What to send back. `drip` names the part sent one byte per `interval` seconds ("status",
    "headers" or "body"); `filler` streams that many bytes of `{"a":"aaaa...` after `body` (a huge body);
    `close` ends the connection after the answer; `drop` ends it instead of answering (as a server whose
    keep-alive timeout ran out as the request arrived); `extra` is sent right after the answer, whatever
    the method (a HEAD answered with a body, bytes smuggled after a response)."""

    status: int = 200
    headers: dict[str, str] | list[tuple[str, str]] = field(default_factory=dict)
    body: bytes = b""
    drip: str | None = None
    interval: float = 4.0
    filler: int = 0
    close: bool = False
    length: int | None = None  # Content-Length to announce (default: the real length; -1: none, then close)
    drop: bool = False
    extra: bytes = b""


Scenario = Callable[[Request], Answer]


class HostileServer:
    """`HostileServer(scenario)` serves `scenario(request)` for every request on 127.0.0.1:<port>."""

    def __init__(self, scenario: Scenario, ssl_context: ssl.SSLContext | None = None):
        self.scenario = scenario
        self.ssl_context = ssl_context
        self.seen: list[Request] = []
        self.connections = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        outer = self

        class _Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                outer._serve_connection(self.request)

        class _Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

        self._server = _Server(("127.0.0.1", 0), _Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, host: str = "127.0.0.1") -> str:
        return f"{'https' if self.ssl_context else 'http'}://{host}:{self.port}"

    def stop(self) -> None:
        self._stop.set()  # ends every drip at once
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- one connection ------------------------------------------------------------------------------

    def _serve_connection(self, sock: socket.socket) -> None:
        with self._lock:
            self.connections += 1
        sock.settimeout(10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # each dripped byte leaves at once
        try:
            if self.ssl_context is not None:
                sock = self.ssl_context.wrap_socket(sock, server_side=True)
            reader = sock.makefile("rb")
            served = 0
            while not self._stop.is_set():
                request = self._read_request(reader)
                if request is None:
                    return
                request.on_connection, served = served, served + 1
                with self._lock:
                    self.seen.append(request)
                answer = self.scenario(request)
                if answer.drop:
                    return
                if not self._write(sock, request, answer) or answer.close or (answer.length or 0) < 0:
                    return
        except (OSError, ssl.SSLError, ValueError):
            return  # the client went away (or its deadline closed the connection): that is the point
        finally:
            try:
                sock.close()
            except OSError:
                pass

    @staticmethod
    def _read_request(reader) -> Request | None:
        line = reader.readline(65537)
        if not line:
            return None
        method, path, _ = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        headers: list[tuple[str, str]] = []
        while True:
            raw = reader.readline(65537)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").rstrip("\r\n").partition(":")
            headers.append((name, value.strip()))
        length = int(next((v for k, v in headers if k.lower() == "content-length"), "0") or 0)
        body = reader.read(length) if length else b""
        return Request(method, path, headers, body)

    def _write(self, sock: socket.socket, request: Request, answer: Answer) -> bool:
        """Send `answer`; False when the server stopped or the client left mid-way."""
        items = list(answer.headers.items()) if isinstance(answer.headers, dict) else list(answer.headers)
        length = answer.length if answer.length is not None else len(answer.body) + answer.filler
        close = answer.close or length < 0  # without a length the body ends with the connection
        if length >= 0 and not any(k.lower() == "content-length" for k, _ in items):
            items.append(("Content-Length", str(length)))
        if close:
            items.append(("Connection", "close"))
        status = f"HTTP/1.1 {answer.status} {REASONS.get(answer.status, 'Whatever')}\r\n".encode()
        head = "".join(f"{k}: {v}\r\n" for k, v in items).encode("latin-1") + b"\r\n"
        body = (b"" if request.method == "HEAD" else answer.body) + answer.extra
        if answer.drip is None:
            sock.sendall(status + head + body)  # one write: no Nagle / delayed-ACK stall between parts
        for name, data in [("status", status), ("headers", head), ("body", body)] if answer.drip else []:
            if answer.drip == name:
                for i in range(len(data)):
                    sock.sendall(data[i:i + 1])
                    if self._stop.wait(answer.interval):
                        return False
            elif data:
                sock.sendall(data)
        if answer.filler and request.method != "HEAD":
            for chunk in _filler(answer.filler):
                if self._stop.is_set():
                    return False
                sock.sendall(chunk)
        return True


def _filler(size: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < size:
        part = min(chunk, size - sent)
        yield b"a" * part
        sent += part


# -- scenarios -----------------------------------------------------------------------------------------

def bearer_challenge(realm: str, service: str = "hostile") -> dict[str, str]:
    return {"WWW-Authenticate": f'Bearer realm="{realm}",service="{service}"'}


def token_answer(token: str) -> Answer:
    """A token service's answer; JSON escapes let a test hand out a token with CR, LF or NUL in it."""
    return Answer(200, {"Content-Type": "application/json"}, json.dumps({"token": token}).encode())


def redirect(status: int, location: str) -> Answer:
    return Answer(status, {"Location": location})
