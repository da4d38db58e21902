"""The client-port front run by a process of its own (the server's side; the child is
``front_child.py``).

Why a process: the front thread of :mod:`etcdlite.http.front` wakes for every message of every
forwarded gRPC connection and takes the GIL from the event loop each time; with one call in flight
per connection that cost about a fifth of the throughput (docs/shared-client-port.md). In a child
process the forwarding runs beside the server, not inside its interpreter.

Theory of operation.

* The server binds the listeners (so it still owns "address in use" and port 0) and keeps them
  open for its whole life; the child inherits them and is the only one that accepts. The
  connections that arrive before the child serves wait in the kernel's accept queue, so
  :meth:`FrontProcess.start` does not wait for the child.
* HTTP connections come back over the *handoff* socket pair, read on the server's event loop and
  given to the port's ``on_http``, exactly as the front thread would.
* :meth:`FrontProcess.drop_connections` asks over the *control* pair and waits for the answer
  (the child drops its accepted sockets; the server's own HTTP sockets are the caller's part).
* Stopping closes the control pair: the child stops its front, closing its listener copies and
  every connection, and exits; the server waits for that, then closes its own copies, so the port
  is free when :meth:`stop` returns. The server's death closes the pair as well.
* The child runs in a session of its own, so signals for the server's process group (a
  terminal's Ctrl-C) reach only the server.
* If the child cannot start, or ends on its own, the same ports are served by a front thread in
  the server (the listeners never closed), and a warning says so.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys

from .front import ClientPort, Front

log = logging.getLogger("etcdlite.http")

CHILD_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "front_child.py")
#: how long stop waits for the child to exit before it kills it
STOP_TIMEOUT = 5.0
#: how long drop_connections waits for the child's answer
DROP_TIMEOUT = 5.0


def available() -> bool:
    """Whether this platform can pass sockets between processes (SCM_RIGHTS over SEQPACKET)."""
    return (hasattr(socket, "send_fds") and hasattr(socket, "SOCK_SEQPACKET")
            and bool(sys.executable))


def _spawn(argv: list[str], inherited: list[int]) -> subprocess.Popen:
    # a session of its own: a terminal's Ctrl-C (sent to the foreground process group) reaches
    # the server, which then stops the front; the front must not end before
    return subprocess.Popen(argv, pass_fds=inherited, stdin=subprocess.DEVNULL, close_fds=True,
                            start_new_session=True)


class FrontProcess:
    """The same ``add_port`` / ``start`` / ``stop`` as :class:`Front`, served by a child process."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._ports: list[ClientPort] = []
        self._process: subprocess.Popen | None = None
        self._handoff: socket.socket | None = None
        self._control: socket.socket | None = None
        #: the child said it serves the ports
        self.ready = False
        #: the front thread serving the ports when the child could not
        self._thread_front: Front | None = None
        self._stopping = False

    @property
    def pid(self) -> int | None:
        """The child's process ID (None when the ports are served from a thread)."""
        return self._process.pid if self._process is not None and self._thread_front is None else None

    def add_port(self, port: ClientPort) -> None:
        """Serve ``port`` (before :meth:`start`)."""
        self._ports.append(port)

    def start(self) -> None:
        handoff, handoff_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        control, control_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        inherited = [handoff_child.fileno(), control_child.fileno()]
        inherited += [port.listener.fileno() for port in self._ports]
        spec = {"handoff": handoff_child.fileno(), "control": control_child.fileno(),
                "ports": [[port.listener.fileno(), port.tls, port.grpc_path] for port in self._ports]}
        try:
            self._process = _spawn([sys.executable, "-S", "-E", CHILD_SCRIPT, json.dumps(spec)],
                                   inherited)
        except OSError as exc:
            handoff.close()
            control.close()
            self._serve_from_thread(f"cannot start the client port process ({exc})")
            return
        finally:
            handoff_child.close()
            control_child.close()
        handoff.setblocking(False)
        self._handoff, self._control = handoff, control
        self._loop.add_reader(handoff.fileno(), self._on_handoff)

    def _on_handoff(self) -> None:
        for _ in range(256):
            try:
                data, fds, _, _ = socket.recv_fds(self._handoff, 16, 4)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data, fds = b"", []
            if not data and not fds:
                self._child_ended()
                return
            if data == b"R":
                self.ready = True
            elif data[:1] == b"H" and len(fds) == 1 and data[1:].isdigit() \
                    and int(data[1:]) < len(self._ports):
                os.set_inheritable(fds[0], False)
                self._ports[int(data[1:])].on_http(socket.socket(fileno=fds[0]))
                continue
            for fd in fds:
                os.close(fd)

    def _child_ended(self) -> None:
        self._close_handoff()
        if self._stopping:
            return
        code = self._process.poll() if self._process is not None else None
        self._serve_from_thread(f"the client port process ended (exit status {code})")

    def _serve_from_thread(self, why: str) -> None:
        log.warning("%s: serving the client ports from a thread instead", why)
        front = Front()
        for port in self._ports:
            front.add_port(port)
        front.start()
        self._thread_front = front

    def drop_connections(self) -> int | None:
        """Drop every client connection the child accepted (gRPC ones and those not classified
        yet); None when it cannot find them. Blocks until the child answers."""
        if self._thread_front is not None or self._control is None:
            return 0  # a front thread's connections are this process's own
        try:
            self._control.settimeout(DROP_TIMEOUT)
            self._control.send(b"D")
            answer = self._control.recv(32)
        except OSError as exc:
            log.warning("the client port process did not drop its connections: %s", exc)
            return 0
        if not answer.startswith(b"D"):
            return 0
        dropped = int(answer[1:])
        return None if dropped < 0 else dropped

    def stop_handing_over(self) -> None:
        if self._thread_front is not None:
            self._thread_front.stop_handing_over()

    def stop(self) -> None:
        """Stop the child (or the fallback thread) and close the listeners."""
        self._stopping = True
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._process is not None:
            try:
                self._process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.warning("the client port process did not stop: killing it")
                self._process.kill()
                self._process.wait()
        self._close_handoff()
        if self._thread_front is not None:
            self._thread_front.stop()  # closes the listeners
        else:
            for port in self._ports:
                port.listener.close()

    def _close_handoff(self) -> None:
        if self._handoff is None:
            return
        try:
            self._loop.remove_reader(self._handoff.fileno())
        except (RuntimeError, ValueError):  # the loop is already closed
            pass
        self._handoff.close()
        self._handoff = None
