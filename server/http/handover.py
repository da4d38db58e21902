"""Giving grpc core an accepted TCP connection itself, so gRPC on the shared port has no hop.

grpcio's Python API cannot take an accepted socket (grpc core's ``grpc_server_add_channel_from_fd``
is not exposed), and forwarding every byte through one more socket costs a tenth to a fifth of the
throughput at one call per connection (docs/shared-client-port.md). So the front connects to grpc
core's private unix listener as usual and then puts the TCP socket in place of the unix socket
grpc core accepted: same descriptor number, same epoll registration.

Theory of operation. One hand-over, run by the front thread, in these steps; everything before
step 4 can still fall back to forwarding (the unix connection is intact), nothing after it can:

1. The front connects a unix socket bound to a unique abstract name (``HandoverSet.connect``).
   The client's bytes (the HTTP/2 preface, or the TLS ClientHello) stay unread in the TCP socket.
2. grpc core accepts it on a thread of its own. The front finds grpc's descriptor *N* as the
   socket whose peer is that name, and the epoll set grpc registered *N* in, with its event mask
   and data word (grpc's handle for the descriptor), from ``/proc/self/fdinfo``. Until both are
   there it waits (polled in ticks; a plain port wakes it when grpc writes).
3. On a plain port grpc writes its server preface (SETTINGS) at once, and then nothing until it
   has read from the client, which it cannot before step 5: the front waits for those bytes and
   sends them to the client itself. A TLS server writes nothing before the ClientHello.
4. ``dup2(tcp, N)``: *N* now is the TCP connection; grpc's unix file is released, which removes
   its epoll entry. Whatever grpc wrote meanwhile is read up to the unix socket's end and sent
   on, still before grpc can read anything.
5. ``epoll_ctl(ADD, N)`` with grpc's mask and data word: the client's bytes waiting in the socket
   make it readable (edge-triggered, as grpc registered it), and grpc core carries on as if it had
   accepted the TCP connection itself. The front closes its own descriptors for both sockets.

It rests on grpc core's poller (epoll, one registration per descriptor, nothing re-registered
later) — true for grpcio's epoll1 poller and its EventEngine's. Any mismatch before step 4 (no
epoll set holds *N* within :data:`DEADLINE`, another poll strategy, no ``/proc``) falls back to
forwarding. One window is left: grpc closing *N* and the number being reused between the last
check and ``dup2``; grpc closes a connection it just accepted only when the server stops, and
the runtime stops hand-overs before it stops grpc core (:meth:`HandoverSet.stop`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import logging
import os
import platform
import socket
import stat
import threading
import time

from .front import connect_to_grpc

log = logging.getLogger("etcdlite.http")

#: how long grpc core may take to accept and register the connection before it is forwarded
DEADLINE = 1.0
_EPOLL_CTL_ADD = 1
_PREFACE_MAX = 64 * 1024

WAIT, DONE, FORWARD, CLOSED = "wait", "done", "forward", "closed"  # Handover.advance


class _PackedEpollEvent(ctypes.Structure):  # x86-64: the kernel's struct is packed
    _pack_ = 1
    _fields_ = [("events", ctypes.c_uint32), ("data", ctypes.c_uint64)]


class _EpollEvent(ctypes.Structure):
    _fields_ = [("events", ctypes.c_uint32), ("data", ctypes.c_uint64)]


def _load_epoll_ctl():
    if platform.system() != "Linux" or not os.path.isdir("/proc/self/fdinfo"):
        return None, None
    machine = platform.machine()
    if machine in ("x86_64", "AMD64"):
        event = _PackedEpollEvent
    elif machine in ("aarch64", "arm64", "riscv64", "ppc64le", "s390x"):
        event = _EpollEvent
    else:
        return None, None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        epoll_ctl = libc.epoll_ctl
    except (OSError, AttributeError):
        return None, None
    epoll_ctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.POINTER(event)]
    epoll_ctl.restype = ctypes.c_int
    return epoll_ctl, event


_epoll_ctl, _Event = _load_epoll_ctl()


def available() -> bool:
    """Whether this platform lets the front hand connections over (Linux with /proc and libc)."""
    return _epoll_ctl is not None and hasattr(socket, "AF_UNIX")


class Registration:
    __slots__ = ("epfd", "events", "data")

    def __init__(self, epfd: int, events: int, data: int) -> None:
        self.epfd, self.events, self.data = epfd, events, data


class _ProcessView:
    """What this process's descriptor table shows at one moment: the unix sockets grpc core
    accepted on ``grpc_paths`` whose peer has one of our names, and every epoll registration."""

    def __init__(self, prefix: bytes, own: set[int], grpc_paths: set[str]) -> None:
        self.peers: dict[bytes, tuple[int, int]] = {}  # peer name -> (fd, inode)
        self.registered: dict[int, list[Registration]] = {}
        accepted = _accepted_on(grpc_paths)
        epolls = []
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd in own:
                continue
            try:
                # fstat, not readlink: a tenth of the cost; only anonymous inodes need the link
                status = os.fstat(fd)
                if stat.S_ISSOCK(status.st_mode):
                    if str(status.st_ino) in accepted:
                        peer = _peer_name(fd)
                        if peer is not None and peer.startswith(prefix):
                            self.peers[peer] = (fd, status.st_ino)
                elif stat.S_IFMT(status.st_mode) == 0 and \
                        os.readlink(f"/proc/self/fd/{name}") == "anon_inode:[eventpoll]":
                    epolls.append(fd)
            except OSError:
                continue
        for epfd in epolls:
            try:
                with open(f"/proc/self/fdinfo/{epfd}") as info:
                    for line in info:
                        if line.startswith("tfd:"):
                            # tfd:  12 events: 8000001d data: 7f31c8002e40  pos:0 ino:... sdev:...
                            fields = line.split()
                            self.registered.setdefault(int(fields[1]), []).append(Registration(
                                epfd, int(fields[3], 16), int(fields[5], 16)))
            except (OSError, ValueError, IndexError):
                continue


def _accepted_on(paths: set[str]) -> set[str]:
    """The inodes of the connected unix sockets bound to ``paths`` (those a listener there
    accepted), from the kernel's table: asking every socket for its peer costs far more."""
    inodes = set()
    try:
        with open("/proc/self/net/unix") as table:
            next(table, None)
            for line in table:
                # Num RefCount Protocol Flags Type St Inode Path; St 03: connected
                fields = line.split(None, 7)
                if len(fields) == 8 and fields[5] == "03" and fields[7].rstrip("\n") in paths:
                    inodes.add(fields[6])
    except OSError:
        pass
    return inodes


def _peer_name(fd: int) -> bytes | None:
    try:
        dup = os.dup(fd)
    except OSError:
        return None
    try:
        sock = socket.socket(fileno=dup)
    except OSError:
        os.close(dup)
        return None
    try:
        if sock.family != socket.AF_UNIX:
            return None
        peer = sock.getpeername()
        return peer if isinstance(peer, bytes) else None
    except OSError:
        return None
    finally:
        sock.close()


class Handover:
    """One connection on its way to grpc core (see the module docstring for the steps)."""

    __slots__ = ("tcp", "unix", "name", "grpc_path", "tls", "deadline", "fds")

    def __init__(self, tcp: socket.socket, unix: socket.socket, name: bytes, grpc_path: str,
                 tls: bool) -> None:
        self.tcp, self.unix, self.name, self.grpc_path, self.tls = tcp, unix, name, grpc_path, tls
        self.deadline = time.monotonic() + DEADLINE
        #: (the TCP socket's number, the unix socket's) while the front holds them
        self.fds = (tcp.fileno(), unix.fileno())

    def advance(self, view: _ProcessView) -> str:
        """Try steps 2-5: WAIT (grpc is not there yet), DONE, FORWARD (forward instead: nothing
        was swapped) or CLOSED (the connection could not be kept)."""
        found = view.peers.get(self.name)
        if found is None:
            return WAIT
        grpc_fd, inode = found
        registrations = view.registered.get(grpc_fd)
        if not registrations:
            return WAIT
        if len(registrations) > 1:
            return FORWARD  # not the poller this was made for
        registration = registrations[0]
        try:
            written = self.unix.recv(_PREFACE_MAX)
        except BlockingIOError:
            written = None
        except OSError:
            return CLOSED  # grpc closed it: so would forwarding
        if written == b"":
            return CLOSED
        if written is None and not self.tls:
            return WAIT  # the server preface is not written yet
        try:
            if written:
                _send_all(self.tcp, written)
            if os.fstat(grpc_fd).st_ino != inode:
                # grpc closed it and the number is taken: the bytes already went to the client,
                # so forwarding carries on exactly where this stopped
                return FORWARD
        except OSError:
            return CLOSED
        os.dup2(self.tcp.fileno(), grpc_fd, inheritable=False)
        ok = True
        try:
            rest = _read_to_end(self.unix)
            if rest:
                _send_all(self.tcp, rest)
        except OSError:
            ok = False
        event = _Event(registration.events, registration.data)
        if _epoll_ctl(registration.epfd, _EPOLL_CTL_ADD, grpc_fd, ctypes.byref(event)) != 0:
            log.warning("cannot hand a gRPC connection to grpc core: epoll_ctl: %s",
                        os.strerror(ctypes.get_errno()))
            ok = False
        if not ok:
            try:
                self.tcp.shutdown(socket.SHUT_RDWR)  # grpc sees the end and closes its number
            except OSError:
                pass
        self.close()
        return DONE if ok else CLOSED

    def expired(self, now: float) -> bool:
        return now >= self.deadline

    def close(self) -> None:
        self.unix.close()
        self.tcp.close()


def _send_all(sock: socket.socket, data: bytes) -> None:
    sock.settimeout(1.0)
    try:
        sock.sendall(data)
    finally:
        sock.setblocking(False)


def _read_to_end(sock: socket.socket) -> bytes:
    """What grpc wrote before its end was closed (at once, unless a syscall of grpc's on the old
    file still held it)."""
    sock.settimeout(0.1)
    chunks = []
    try:
        while True:
            data = sock.recv(_PREFACE_MAX)
            if not data:
                break
            chunks.append(data)
    except socket.timeout:
        pass
    return b"".join(chunks)


class HandoverSet:
    """The hand-overs in progress. The front thread calls everything here except :meth:`stop`,
    which the runtime calls before it stops grpc core."""

    def __init__(self) -> None:
        self._prefix = f"\0etcdlite-grpc-{os.getpid()}-".encode()
        self._numbers = itertools.count()
        self._waiting: dict[int, Handover] = {}
        self._lock = threading.Lock()
        self._stopped = False
        #: how many connections were handed to grpc core, and how many forwarded instead
        self.handed_over = self.forwarded = 0
        self.looks = 0  # looks at the process (one serves every waiting hand-over)

    def __len__(self) -> int:
        return len(self._waiting)

    def connect(self, tcp: socket.socket, grpc_path: str, tls: bool) -> Handover | None:
        """Step 1, and the hand-over waits (None if grpc core cannot be reached: the caller
        closes ``tcp``)."""
        name = self._prefix + str(next(self._numbers)).encode()
        unix = connect_to_grpc(grpc_path, name)
        if unix is None:
            return None
        handover = Handover(tcp, unix, name, grpc_path, tls)
        self._waiting[handover.fds[1]] = handover
        return handover

    def waiting(self, fd: int) -> Handover | None:
        """The hand-over whose unix socket is ``fd``."""
        return self._waiting.get(fd)

    def all(self) -> list[Handover]:
        return list(self._waiting.values())

    def advance(self, handovers: list[Handover]) -> tuple[list[Handover], list[Handover]]:
        """Steps 2-5 for ``handovers`` against one look at the process: (those that ended: handed
        over or closed, their sockets closed; those to forward instead: nothing swapped)."""
        ended: list[Handover] = []
        forward: list[Handover] = []
        with self._lock:
            if self._stopped:
                forward = list(handovers)
            else:
                own = {fd for h in handovers for fd in h.fds}
                view = _ProcessView(self._prefix, own, {h.grpc_path for h in handovers})
                self.looks += 1
                now = time.monotonic()
                for h in handovers:
                    outcome = h.advance(view)
                    if outcome == WAIT and h.expired(now):
                        log.info("grpc core did not take a connection within %.1f s: forwarding it",
                                 DEADLINE)
                        outcome = FORWARD
                    if outcome == FORWARD:
                        forward.append(h)
                    elif outcome != WAIT:
                        ended.append(h)
                        self.handed_over += outcome == DONE
        self.forwarded += len(forward)
        for h in ended:
            h.close()  # a CLOSED one may still hold them
        for h in ended + forward:
            self._waiting.pop(h.fds[1], None)
        return ended, forward

    def stop(self) -> None:
        """No more swaps from now on (waits for one in progress): grpc core is about to close
        its connections, and a number it frees must not be written over."""
        with self._lock:
            self._stopped = True
