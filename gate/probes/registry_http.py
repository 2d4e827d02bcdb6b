"""HTTP/1.1 for the registry probe: h11 over asyncio connections, kept alive per origin.

Why not httpx's AsyncClient here: a registry check is thousands of tiny exchanges (a HEAD and its
headers), and per exchange its client layer and httpcore's anyio streams cost ~0.75 ms of CPU
(measured against Debian's docker-registry on loopback; a sequential httpx.Client costs ~0.5 ms, h11
over an asyncio Protocol ~0.2 ms). On a loaded two-core machine the probe and a local registry
compete for the same CPU, and that overhead made the concurrent probe slower than one sequential
kept-alive connection. h11 (httpx's own HTTP/1.1 parser) does the framing here as it does there;
this module only moves bytes, pools connections and maps failures onto httpx's exception classes,
which the probe describes without their text.

Only direct connections: when the environment names a proxy the probe uses httpx, which honours it.
Time limits are the caller's (the probe bounds every exchange as a whole); only connecting has its
own, shorter one.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.parse
import zlib
from collections.abc import AsyncIterator, Callable

import h11
import httpx

MAX_HEAD = 100 * 1024  # status line and headers of one answer, as httpcore allows
HIGH_WATER = 256 * 1024  # unread bytes after which the socket stops being read until they are taken
KEEPALIVE_EXPIRY = 5.0  # seconds an idle connection is reused (httpx's default; servers time out later)

Origin = tuple[str, str, int]


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection and its h11 state. Bytes arrive through the protocol callbacks and
    wait in a buffer until the exchange asks for them."""

    def __init__(self) -> None:
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        self.transport: asyncio.Transport | None = None
        self.idle_since = 0.0
        self.received = 0  # bytes in all, to tell a connection that answered nothing
        self._buffer = bytearray()
        self._eof = False
        self._eof_fed = False
        self._lost: Exception | None = None
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None

    # -- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        self._buffer += data
        if len(self._buffer) > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return False  # close the transport: a half-closed connection serves nothing more

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._lost = exc
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- for the exchange ------------------------------------------------------------------------

    @property
    def reusable(self) -> bool:
        """Idle, open, and nothing received beyond its last answer. A server closing a kept-alive
        connection sends EOF; bytes after an answer (a HEAD answered with a body, a response smuggled
        behind another) would be read as the answer to the next request, so such a connection goes."""
        return (not self._eof and not self._buffer and not self.h11.trailing_data[0]
                and self.transport is not None and not self.transport.is_closing()
                and self.h11.our_state is h11.IDLE and self.h11.their_state is h11.IDLE)

    def write(self, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            raise httpx.WriteError("the connection was closed before the request was sent")
        self.transport.write(data)

    async def next_event(self) -> h11.Event | type[h11.PAUSED]:
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError:
                raise httpx.RemoteProtocolError("the peer broke HTTP/1.1") from None
            if event is not h11.NEED_DATA:
                return event
            data = await self._read()
            if not data:
                # A reset is a failure: a body that ends with the connection may have been cut short.
                # A TLS peer closing without close_notify is only an end, as httpcore reads it.
                if self._lost is not None and not isinstance(self._lost, ssl.SSLEOFError):
                    raise httpx.ReadError("the connection broke") from self._lost
                if self._eof_fed:  # h11 never asks again after EOF; a guard against looping on it
                    raise httpx.RemoteProtocolError("the peer closed the connection")
                self._eof_fed = True
            self.h11.receive_data(data)

    async def _read(self) -> bytes:
        while not self._buffer and not self._eof:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        data = bytes(self._buffer)
        self._buffer.clear()
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()  # nothing left to send; no TLS close_notify wait at shutdown


class Response:
    """An answer whose body is read on demand (`aiter_bytes`), with the attributes of an httpx
    response the probe uses. `aclose` puts the connection back when the answer was read to its end."""

    def __init__(self, pool: Pool, origin: Origin, connection: _Connection, status: int,
                 headers: httpx.Headers) -> None:
        self._pool, self._origin, self._connection = pool, origin, connection
        self.status_code = status
        self.headers = headers
        self._complete = False
        encoding = headers.get("content-encoding", "").strip().lower()
        # Identity is what the probe asks for; a server that compresses anyway is decoded as httpx does.
        self._decoder = (zlib.decompressobj(zlib.MAX_WBITS | 32) if encoding in ("gzip", "x-gzip")
                         else zlib.decompressobj() if encoding == "deflate" else None)

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        connection = self._connection
        while not self._complete:
            event = await connection.next_event()
            if isinstance(event, h11.Data):
                chunk = bytes(event.data)
                if self._decoder is not None:
                    try:
                        chunk = self._decoder.decompress(chunk)
                    except zlib.error:
                        raise httpx.DecodingError("the answer's content encoding did not decode") from None
                if chunk:
                    yield chunk
            elif isinstance(event, h11.EndOfMessage):
                self._complete = True
            else:  # ConnectionClosed before the end of the body
                raise httpx.RemoteProtocolError("the peer closed the connection during the answer")

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None  # type: ignore[assignment]
        if connection is None:
            return
        if self._complete and connection.h11.our_state is h11.DONE and connection.h11.their_state is h11.DONE:
            connection.h11.start_next_cycle()
            self._pool.release(self._origin, connection)
        else:
            self._pool.discard(connection)


class Pool:
    """Kept-alive connections per origin (scheme, host, port), the most recently used first. The caller
    bounds how many exchanges run at once, and so how many connections are open."""

    def __init__(self, ssl_context: Callable[[], ssl.SSLContext], *, connect_timeout: float,
                 user_agent: str) -> None:
        self._ssl_context = ssl_context
        self._connect_timeout = connect_timeout
        self._user_agent = user_agent
        self._idle: dict[Origin, list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self.connections = 0  # opened in all

    async def open(self, method: str, url: httpx.URL, headers: dict[str, str],
                   data: dict[str, str] | None) -> Response:
        """Send the request, return once the status line and headers are in."""
        # The host as DNS and SNI take it: IDNA-encoded (httpx's `host` is the Unicode form).
        origin = (url.scheme, url.raw_host.decode("ascii"), url.port or (443 if url.scheme == "https" else 80))
        fields = [("Host", url.netloc.decode("ascii")), ("User-Agent", self._user_agent),
                  ("Accept-Encoding", "identity"), *headers.items()]
        body = b""
        if data is not None:
            body = urllib.parse.urlencode(data).encode("ascii")
            fields += [("Content-Type", "application/x-www-form-urlencoded"), ("Content-Length", str(len(body)))]
        try:
            request = h11.Request(method=method, target=url.raw_path, headers=fields)
        except (h11.LocalProtocolError, UnicodeError):
            # h11's message quotes the refused value, which may be a credential.
            raise httpx.LocalProtocolError("the request holds a value HTTP/1.1 does not allow") from None
        while True:
            connection = self._idle_connection(origin)
            fresh = connection is None
            if connection is None:
                connection = await self._connect(origin)
            received = connection.received
            try:
                return await self._exchange(origin, connection, request, body)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
                # A kept-alive connection the server closed as the request went out: once more on a
                # new one, for requests that change nothing, when not one byte of an answer came back.
                if fresh or method not in ("HEAD", "GET") or connection.received != received:
                    raise

    async def _exchange(self, origin: Origin, connection: _Connection, request: h11.Request,
                        body: bytes) -> Response:
        self._open.add(connection)
        try:
            wire = connection.h11.send(request)
            if body:
                wire += connection.h11.send(h11.Data(data=body))
            connection.write(wire + connection.h11.send(h11.EndOfMessage()))
            while True:
                event = await connection.next_event()
                if isinstance(event, h11.Response):
                    break
                if not isinstance(event, h11.InformationalResponse):  # ConnectionClosed
                    raise httpx.RemoteProtocolError("the server closed the connection without answering")
            headers = httpx.Headers([(name, value) for name, value in event.headers])
            return Response(self, origin, connection, event.status_code, headers)
        except BaseException:  # cancelled or failed mid-exchange: the connection's state is unknown
            self.discard(connection)
            raise

    def _idle_connection(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = asyncio.get_running_loop().time()
        while idle:
            connection = idle.pop()
            if connection.reusable and now - connection.idle_since < KEEPALIVE_EXPIRY:
                return connection
            self.discard(connection)
        return None

    async def _connect(self, origin: Origin) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        context = self._ssl_context() if scheme == "https" else None
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, connection = await loop.create_connection(
                    _Connection, host, port, ssl=context, server_hostname=host if context else None)
        except TimeoutError:
            raise httpx.ConnectTimeout("no connection in time") from None
        except OSError as exc:  # ssl.SSLError included: describe_error reads its reason code
            raise httpx.ConnectError("connection failed") from exc
        self.connections += 1
        self._open.add(connection)
        return connection

    def release(self, origin: Origin, connection: _Connection) -> None:
        self._open.discard(connection)
        if not connection.reusable:
            connection.close()
            return
        connection.idle_since = asyncio.get_running_loop().time()
        self._idle.setdefault(origin, []).append(connection)

    def discard(self, connection: _Connection) -> None:
        self._open.discard(connection)
        connection.close()

    async def aclose(self) -> None:
        for connection in [*self._open, *(c for idle in self._idle.values() for c in idle)]:
            connection.close()
        self._open.clear()
        self._idle.clear()
