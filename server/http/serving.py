"""HTTP connections on the server's event loop: those the front hands over from a shared client
port, and those of HTTP-only listeners (``--listen-client-http-urls``, ``--listen-metrics-urls``)."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from typing import Callable

from .connection import serve_streams
from .message import Handler

log = logging.getLogger("etcdlite.http")

_TLS_HANDSHAKE_TIMEOUT = 10.0


def server_ssl_context(cert_file: str, key_file: str, client_roots: bytes | None,
                       min_version: str | None = None, max_version: str | None = None) -> ssl.SSLContext:
    """The TLS settings of an https URL's HTTP side: the same certificate and client-certificate
    rule as its gRPC side, HTTP/1.1 by ALPN."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3 if min_version == "TLS1.3" else ssl.TLSVersion.TLSv1_2
    if max_version == "TLS1.2":
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    if client_roots is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cadata=client_roots.decode("ascii", "replace"))
    context.set_alpn_protocols(["http/1.1"])
    return context


class HttpServing:
    """Every HTTP connection of one runtime, so that stopping ends them all."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._tasks: set[asyncio.Task] = set()
        self._servers: list[asyncio.AbstractServer] = []
        self._closed = False

    def handoff(self, handler: Handler, context: ssl.SSLContext | None) -> Callable[[socket.socket], None]:
        """A callback for the front thread: serve this accepted socket on the loop."""
        def take(sock: socket.socket) -> None:
            try:
                self._loop.call_soon_threadsafe(self._adopt, sock, handler, context)
            except RuntimeError:  # the loop is closed
                sock.close()
        return take

    def _adopt(self, sock: socket.socket, handler: Handler, context: ssl.SSLContext | None) -> None:
        if self._closed:
            sock.close()
            return
        task = self._loop.create_task(self._serve_socket(sock, handler, context))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve_socket(self, sock: socket.socket, handler: Handler,
                            context: ssl.SSLContext | None) -> None:
        reader = asyncio.StreamReader(limit=64 * 1024)
        protocol = asyncio.StreamReaderProtocol(reader)
        try:
            transport, _ = await self._loop.connect_accepted_socket(
                lambda: protocol, sock, ssl=context,
                ssl_handshake_timeout=_TLS_HANDSHAKE_TIMEOUT if context is not None else None)
        except (OSError, ssl.SSLError, asyncio.TimeoutError, ConnectionError):
            sock.close()
            return
        writer = asyncio.StreamWriter(transport, protocol, reader, self._loop)
        await serve_streams(reader, writer, handler, context is not None)

    async def listen(self, sock: socket.socket, handler: Handler,
                     context: ssl.SSLContext | None) -> None:
        """Serve HTTP only on a bound, listening socket."""
        async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            self._tasks.add(task)
            try:
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    try:
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    except OSError:
                        pass
                await serve_streams(reader, writer, handler, context is not None)
            finally:
                self._tasks.discard(task)

        server = await asyncio.start_server(
            connected, sock=sock, ssl=context,
            ssl_handshake_timeout=_TLS_HANDSHAKE_TIMEOUT if context is not None else None)
        self._servers.append(server)

    async def close(self) -> None:
        self._closed = True
        for server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self._servers:
            try:
                await asyncio.wait_for(server.wait_closed(), 1.0)
            except asyncio.TimeoutError:
                pass
        self._servers.clear()


def bind_listener(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A listening TCP socket on host:port (port 0: any free port), with SO_REUSEADDR as Go's
    listeners have; raises OSError."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock
