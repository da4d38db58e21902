"""gRPC and HTTP/1.1 on one client port, as etcd serves them (etcd uses cmux).

grpcio cannot serve HTTP/1.1 and cannot take an accepted socket, so Python owns the public port
(see docs/shared-client-port.md for the designs measured): one *front* thread accepts, looks at
the first bytes of each connection without consuming them, and

* gives a gRPC connection to grpc core, which listens on a private unix socket with the port's
  own credentials (so grpc core still does the TLS handshake and sees the client certificate):
  in grpc core's own process the TCP socket itself is put in place of the unix connection grpc
  accepted (etcdlite.http.handover); where that cannot be done (another process, a step that
  does not match) the front forwards the connection byte for byte;
* hands an HTTP/1.1 connection to the server's event loop.

Theory of operation. Every socket the front owns is registered in one epoll set.

* A listening socket: readable means connections to accept; each is made non-blocking with
  TCP_NODELAY and becomes *pending*.
* A pending connection (edge-triggered, so the peeked bytes do not wake the thread again) is
  classified from ``recv(MSG_PEEK)``: on a plain port the HTTP/2 client preface means gRPC (a
  prefix of it: wait for more); on a TLS port the ClientHello's ALPN list means gRPC when it offers
  ``h2`` and not ``http/1.1`` (every gRPC client offers only h2; curl, browsers and Go's HTTP
  client offer both); anything else is HTTP. A connection still undecided after
  :data:`CLASSIFY_TIMEOUT` is closed.
* One poll returns a batch of events; a socket closed while the batch is dispatched frees its fd
  number, which a connection accepted later in the same batch may get. The batch's remaining
  events for a number closed in it are stale and skipped (a new socket's events cannot be in a
  batch polled before it was registered); dispatching them once closed fresh gRPC connections
  whenever the stale event carried EPOLLERR.
* A hand-over waiting for grpc core's side of the connection: its unix socket is registered
  edge-triggered (grpc core's first write wakes the front); while any wait, the poll times out
  every :data:`_HANDOVER_TICK` and they all look at the process once.
* A forwarded pair (level-triggered) moves bytes in each direction through a kernel pipe with
  ``os.splice``, never into Python memory. The common event, a socket readable while its
  direction's pipe is empty, is handled in the poll loop itself: one splice in, one out; only
  when the destination does not take it all (or the input ended, or failed) does the general
  path run, from the state that left. A direction stops reading its source while its pipe
  holds bytes its destination did not take, and asks for writability instead; the end of one
  direction's input shuts down the writing side of the other socket once the pipe is drained; the
  pair closes when both directions ended or either socket fails.

Stopping closes the listeners first, then every pending connection and pair (the runtime stops
grpc core before, so its connections end with its own GOAWAY).
"""

from __future__ import annotations

import errno
import logging
import os
import select
import socket
import struct
import threading
import time
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # the front process's child imports this module without its package
    from .handover import HandoverSet

log = logging.getLogger("etcdlite.http")

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#: a connection that says nothing for this long is closed before it is classified
CLASSIFY_TIMEOUT = 10.0
_PEEK_SIZE = 16 * 1024 + 5  # one full TLS record
_CHUNK = 64 * 1024
_HANDOVER_TICK = 0.002  # how often waiting hand-overs look for grpc core's side
#: a look at the process costs ~1 ms per 300 descriptors; the front looks at most this share of
#: its time, so that a burst of connections does not keep it (and the GIL) busy scanning
_HANDOVER_DUTY = 0.3
_SPLICE = getattr(os, "splice", None)
_SPLICE_FLAGS = getattr(os, "SPLICE_F_MOVE", 0) | getattr(os, "SPLICE_F_NONBLOCK", 0)
_GONE = (errno.ECONNRESET, errno.EPIPE, errno.ENOTCONN, errno.ETIMEDOUT, errno.EBADF,
         errno.ECONNABORTED, errno.EHOSTUNREACH, errno.ENETUNREACH)

GRPC, HTTP = "grpc", "http"


# -- classification -------------------------------------------------------------------------

def classify_plain(data: bytes) -> str | None:
    """gRPC for the HTTP/2 preface, None while the bytes so far are a prefix of it, else HTTP."""
    if data.startswith(H2_PREFACE):
        return GRPC
    if H2_PREFACE.startswith(data):
        return None
    return HTTP


def client_hello_alpn(data: bytes) -> list[bytes] | None:
    """The ALPN protocols a TLS ClientHello offers ([] if none or not a ClientHello), or None if
    ``data`` ends before the ClientHello does. The handshake message may span several records."""
    handshake = bytearray()
    offset = 0
    while True:
        if len(handshake) >= 4:
            if handshake[0] != 1:  # not a ClientHello
                return []
            length = int.from_bytes(handshake[1:4], "big")
            if len(handshake) >= 4 + length:
                return _alpn_of(bytes(handshake[4:4 + length]))
        if len(data) < offset + 5:
            return None
        kind, length = data[offset], struct.unpack_from("!H", data, offset + 3)[0]
        if kind != 0x16:
            return []
        if len(data) < offset + 5 + length:
            return None
        handshake += data[offset + 5:offset + 5 + length]
        offset += 5 + length


def _alpn_of(hello: bytes) -> list[bytes]:
    try:
        at = 2 + 32  # legacy_version, random
        at += 1 + hello[at]  # session id
        at += 2 + int.from_bytes(hello[at:at + 2], "big")  # cipher suites
        at += 1 + hello[at]  # compression methods
        if at + 2 > len(hello):
            return []
        end = at + 2 + int.from_bytes(hello[at:at + 2], "big")
        at += 2
        while at + 4 <= end:
            kind = int.from_bytes(hello[at:at + 2], "big")
            size = int.from_bytes(hello[at + 2:at + 4], "big")
            body = hello[at + 4:at + 4 + size]
            at += 4 + size
            if kind != 16:  # application_layer_protocol_negotiation
                continue
            names, i = [], 2
            while i < len(body):
                names.append(body[i + 1:i + 1 + body[i]])
                i += 1 + body[i]
            return names
    except IndexError:
        pass
    return []


def classify_tls(data: bytes) -> str | None:
    if not data or data[0] != 0x16:
        return HTTP  # not TLS: the HTTP side's TLS handshake refuses it
    offered = client_hello_alpn(data)
    if offered is None:
        return None
    return GRPC if b"h2" in offered and b"http/1.1" not in offered else HTTP


# -- the front ------------------------------------------------------------------------------

class ClientPort:
    """One public listening socket: gRPC goes to grpc core at ``grpc_path`` (a unix socket),
    HTTP is handed to ``on_http`` (called in the front thread; it must only schedule work)."""

    def __init__(self, listener: socket.socket, tls: bool, grpc_path: str,
                 on_http: Callable[[socket.socket], None]) -> None:
        self.listener = listener
        self.tls = tls
        self.grpc_path = grpc_path
        self.on_http = on_http

    @property
    def port(self) -> int:
        return self.listener.getsockname()[1]


def connect_to_grpc(grpc_path: str, name: bytes | None = None) -> socket.socket | None:
    """A non-blocking unix connection to grpc core's listener (bound to ``name`` first if given),
    or None, with a warning, when it cannot be reached."""
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if name is not None:
            upstream.bind(name)
        upstream.settimeout(2.0)
        upstream.connect(grpc_path)
        upstream.setblocking(False)
    except OSError as exc:
        log.warning("cannot reach the gRPC server: %s", exc)
        upstream.close()
        return None
    return upstream


class _Pending:
    __slots__ = ("sock", "port", "deadline")

    def __init__(self, sock: socket.socket, port: ClientPort, deadline: float) -> None:
        self.sock, self.port, self.deadline = sock, port, deadline


class _Direction:
    """Bytes from ``src`` to ``dst`` through a kernel pipe (or a buffer without os.splice)."""

    __slots__ = ("src", "dst", "src_fd", "dst_fd", "pipe_r", "pipe_w", "pending", "buffer", "eof",
                 "shut")

    def __init__(self, src: socket.socket, dst: socket.socket) -> None:
        self.src, self.dst = src, dst
        self.src_fd, self.dst_fd = src.fileno(), dst.fileno()
        self.pending = 0
        self.buffer = b""
        self.eof = False
        self.shut = False
        if _SPLICE is not None:
            self.pipe_r, self.pipe_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        else:
            self.pipe_r = self.pipe_w = -1

    def relay(self) -> bool:
        """The common event in one go: what ``src`` has, read into the pipe and written whole to
        ``dst``. False when more must happen (a partial write, the end of the input, an error):
        the general path then goes on from the state this leaves."""
        if self.pending or self.eof:
            return False
        try:
            self.fill()
            self.drain()
        except OSError:
            return False
        return not (self.pending or self.eof)

    def fill(self) -> None:
        """Read what ``src`` has (nothing while the pipe holds bytes)."""
        try:
            if _SPLICE is not None:
                moved = _SPLICE(self.src_fd, self.pipe_w, _CHUNK, flags=_SPLICE_FLAGS)
            else:
                data = self.src.recv(_CHUNK)
                self.buffer, moved = data, len(data)
        except BlockingIOError:
            return
        if moved == 0:
            self.eof = True
        self.pending += moved

    def drain(self) -> None:
        """Write what the pipe holds to ``dst``, as far as it takes it."""
        while self.pending:
            try:
                if _SPLICE is not None:
                    moved = _SPLICE(self.pipe_r, self.dst_fd, self.pending, flags=_SPLICE_FLAGS)
                else:
                    moved = self.dst.send(self.buffer)
                    self.buffer = self.buffer[moved:]
            except BlockingIOError:
                return
            self.pending -= moved
        if self.eof and not self.shut:
            self.shut = True
            try:
                self.dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def close(self) -> None:
        for fd in (self.pipe_r, self.pipe_w):
            if fd >= 0:
                os.close(fd)
        self.pipe_r = self.pipe_w = -1


class _Pair:
    __slots__ = ("client", "upstream", "up", "down", "masks")

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client, self.upstream = client, upstream
        self.up = _Direction(client, upstream)
        self.down = _Direction(upstream, client)
        self.masks = {client.fileno(): 0, upstream.fileno(): 0}

    def directions(self, fd: int) -> tuple[_Direction, _Direction]:
        """(the direction that reads from ``fd``, the one that writes to it)."""
        return (self.up, self.down) if fd == self.up.src_fd else (self.down, self.up)

    def wanted(self, sock: socket.socket) -> int:
        reading, writing = self.directions(sock.fileno())
        mask = 0
        if not reading.eof and reading.pending == 0:
            mask |= select.EPOLLIN
        if writing.pending:
            mask |= select.EPOLLOUT
        return mask

    @property
    def finished(self) -> bool:
        return self.up.shut and self.down.shut


class Front:
    """The thread that owns the public client ports (see the module docstring)."""

    def __init__(self, handovers: "HandoverSet | None" = None) -> None:
        """``handovers``: give gRPC connections to grpc core itself (etcdlite.http.handover)
        instead of forwarding them; only in grpc core's own process."""
        self._handovers = handovers
        self._look_allowed = 0.0  # the next look at the process, at the earliest
        self._next_tick = 0.0  # the next look while nothing wakes the front (>= _look_allowed)
        self._handover_due = False  # grpc core wrote to a waiting hand-over's socket
        self._epoll = select.epoll()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._epoll.register(self._wake_r, select.EPOLLIN)
        self._ports: dict[int, ClientPort] = {}
        self._pending: dict[int, _Pending] = {}
        self._pairs: dict[int, _Pair] = {}
        #: fds closed while one poll's events are dispatched: the rest of that poll's events for
        #: these numbers are stale, even when a socket accepted meanwhile reuses the number
        self._closed: set[int] = set()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def add_port(self, port: ClientPort) -> None:
        """Serve ``port`` (before :meth:`start`)."""
        port.listener.setblocking(False)
        self._ports[port.listener.fileno()] = port

    def start(self) -> None:
        for fd in self._ports:
            self._epoll.register(fd, select.EPOLLIN)
        self._thread = threading.Thread(target=self._run, name="etcdlite-client-port", daemon=True)
        self._thread.start()

    def stop_handing_over(self) -> None:
        """From now on gRPC connections are forwarded, not handed to grpc core (call it before
        grpc core stops)."""
        if self._handovers is not None:
            self._handovers.stop()

    def stop(self) -> None:
        """Close the listeners and every connection the front still holds; wait for the thread."""
        self._stopping = True
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(5)
        self._close_everything()

    # -- the loop ---------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping:
                timeout = 1.0 if self._pending else -1
                if self._handovers:
                    timeout = max(0.0, self._next_look() - time.monotonic())
                try:
                    events = self._epoll.poll(timeout)
                except InterruptedError:
                    continue
                closed, pairs = self._closed, self._pairs
                closed.clear()
                for fd, mask in events:
                    if fd in closed or fd == self._wake_r:
                        continue
                    if mask == select.EPOLLIN:
                        pair = pairs.get(fd)
                        if pair is not None and pair.directions(fd)[0].relay():
                            continue
                    self._dispatch(fd, mask)
                if self._pending:
                    self._expire_pending()
                if self._handovers and time.monotonic() >= self._next_look():
                    self._advance_handovers(self._handovers.all())
        except Exception:
            log.exception("the client port thread failed")

    def _next_look(self) -> float:
        """When waiting hand-overs look at the process next: as soon as allowed once grpc core
        wrote to one of them, else at the tick."""
        return self._look_allowed if self._handover_due else self._next_tick

    def _dispatch(self, fd: int, mask: int) -> None:
        port = self._ports.get(fd)
        if port is not None:
            self._accept(port)
            return
        pending = self._pending.get(fd)
        if pending is not None:
            self._classify(pending)
            return
        pair = self._pairs.get(fd)
        if pair is not None:
            self._forward(pair, fd, mask)
            return
        if self._handovers is not None and self._handovers.waiting(fd) is not None:
            self._handover_due = True  # grpc core wrote to it: all waiting ones look, once

    def _accept(self, port: ClientPort) -> None:
        for _ in range(64):
            try:
                sock, _ = port.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.warning("cannot accept a client connection: %s", exc)
                return
            sock.setblocking(False)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
            pending = _Pending(sock, port, time.monotonic() + CLASSIFY_TIMEOUT)
            self._pending[sock.fileno()] = pending
            self._epoll.register(sock.fileno(), select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLET)
            self._classify(pending)

    def _classify(self, pending: _Pending) -> None:
        sock = pending.sock
        try:
            data = sock.recv(_PEEK_SIZE, socket.MSG_PEEK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop_pending(pending)
            return
        kind = (classify_tls if pending.port.tls else classify_plain)(data)
        if kind is None and len(data) < _PEEK_SIZE:
            return
        fd = sock.fileno()
        del self._pending[fd]
        self._epoll.unregister(fd)
        if kind == GRPC:
            self._to_grpc(sock, pending.port)
        else:
            try:
                pending.port.on_http(sock)
            except Exception:
                log.exception("cannot hand an HTTP connection to the server")
                sock.close()

    def _drop_pending(self, pending: _Pending) -> None:
        fd = pending.sock.fileno()
        self._pending.pop(fd, None)
        try:
            self._epoll.unregister(fd)
        except (OSError, ValueError):
            pass
        self._closed.add(fd)
        pending.sock.close()

    def _expire_pending(self) -> None:
        now = time.monotonic()
        for pending in [p for p in self._pending.values() if p.deadline <= now]:
            self._drop_pending(pending)

    # -- forwarding -------------------------------------------------------------------------

    def _to_grpc(self, sock: socket.socket, port: ClientPort) -> None:
        if self._handovers is None:
            self._forward_to_grpc(sock, port)
            return
        handover = self._handovers.connect(sock, port.grpc_path, port.tls)
        if handover is None:
            sock.close()
            return
        # grpc core's first write wakes the front (edge-triggered: once); ticks do the rest
        self._epoll.register(handover.fds[1], select.EPOLLIN | select.EPOLLET)
        if len(self._handovers) == 1:
            self._next_tick = max(time.monotonic() + _HANDOVER_TICK, self._look_allowed)

    def _advance_handovers(self, handovers: list) -> None:
        started = time.monotonic()
        ended, forward = self._handovers.advance(handovers)
        now = time.monotonic()
        self._handover_due = False
        self._look_allowed = now + (now - started) * (1 - _HANDOVER_DUTY) / _HANDOVER_DUTY
        self._next_tick = max(now + _HANDOVER_TICK, self._look_allowed)
        for handover in ended:  # their sockets are closed, so out of the epoll set
            self._closed.update(handover.fds)
        for handover in forward:
            self._epoll.unregister(handover.fds[1])
            self._start_pair(handover.tcp, handover.unix)

    def _forward_to_grpc(self, sock: socket.socket, port: ClientPort) -> None:
        upstream = connect_to_grpc(port.grpc_path)
        if upstream is None:
            sock.close()
            return
        self._start_pair(sock, upstream)

    def _start_pair(self, sock: socket.socket, upstream: socket.socket) -> None:
        pair = _Pair(sock, upstream)
        for side in (sock, upstream):
            self._pairs[side.fileno()] = pair
            pair.masks[side.fileno()] = select.EPOLLIN
            self._epoll.register(side.fileno(), select.EPOLLIN)

    def _forward(self, pair: _Pair, fd: int, mask: int) -> None:
        reading, writing = pair.directions(fd)
        try:
            if mask & select.EPOLLOUT:
                writing.drain()
            if mask & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                if reading.pending == 0 and not reading.eof:
                    reading.fill()
                reading.drain()
        except OSError as exc:
            if exc.errno not in _GONE:
                log.warning("client connection forwarding failed: %s", exc)
            self._close_pair(pair)
            return
        if pair.finished or (mask & select.EPOLLERR):
            self._close_pair(pair)
            return
        for sock in (pair.client, pair.upstream):
            wanted = pair.wanted(sock)
            if pair.masks[sock.fileno()] != wanted:
                pair.masks[sock.fileno()] = wanted
                self._epoll.modify(sock.fileno(), wanted)

    def _close_pair(self, pair: _Pair) -> None:
        for sock in (pair.client, pair.upstream):
            fd = sock.fileno()
            if fd < 0:
                continue
            self._pairs.pop(fd, None)
            try:
                self._epoll.unregister(fd)
            except (OSError, ValueError):
                pass
            self._closed.add(fd)
            sock.close()
        pair.up.close()
        pair.down.close()

    def _close_everything(self) -> None:
        for fd, port in list(self._ports.items()):
            port.listener.close()
        self._ports.clear()
        for pending in list(self._pending.values()):
            self._drop_pending(pending)
        for pair in {id(p): p for p in self._pairs.values()}.values():
            self._close_pair(pair)
        if self._handovers is not None:
            for handover in self._handovers.all():
                handover.close()
        self._epoll.close()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
