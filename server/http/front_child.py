"""The client-port front (``front.py``) in a process of its own: the child's side.

:mod:`etcdlite.http.front_process` starts this file as a script, ``python -S -E front_child.py
SPEC``: it imports only the standard library and its two neighbours ``front`` and ``drop`` (this
directory is the script's first path entry), so it starts in tens of milliseconds and never loads
grpc. SPEC is JSON: ``{"handoff": fd, "control": fd, "ports": [[listener fd, tls, grpc path], ...]}``,
the descriptors inherited from the server.

The two unix socket pairs (``SOCK_SEQPACKET``: one message per send):

* *handoff*, child to server: ``R`` once the ports are served, then ``H<port index>`` carrying one
  HTTP connection's descriptor (``SCM_RIGHTS``); the child closes its copy once it is sent.
* *control*, server to child: ``D`` asks to drop every accepted client connection, answered with
  ``D<count>`` (``D-1``: no ``/proc`` to find them); end of file, whether the server stopped the
  front or died, stops the front, closes the listeners and ends the process.

The server starts it in a session of its own and it ignores SIGINT: the server, not a signal,
decides when the port closes.
"""

from __future__ import annotations

import json
import signal
import socket
import sys
from typing import Callable

if __package__:
    from .drop import drop_client_connections
    from .front import ClientPort, Front
else:  # run as the script it is meant to be
    from drop import drop_client_connections
    from front import ClientPort, Front

#: how long the front waits for the server to take an HTTP connection before closing it
HANDOFF_TIMEOUT = 5.0


def _hand_over(handoff: socket.socket, index: int) -> Callable[[socket.socket], None]:
    tag = b"H%d" % index

    def hand_over(sock: socket.socket) -> None:
        try:
            socket.send_fds(handoff, [tag], [sock.fileno()])
        except OSError:
            pass  # the server is gone or stuck: the connection closes below
        finally:
            sock.close()
    return hand_over


def serve(spec: dict) -> None:
    handoff = socket.socket(fileno=spec["handoff"])
    handoff.settimeout(HANDOFF_TIMEOUT)
    control = socket.socket(fileno=spec["control"])
    front = Front()
    ports = []
    for index, (fd, tls, grpc_path) in enumerate(spec["ports"]):
        listener = socket.socket(fileno=fd)
        ports.append(listener.getsockname()[1])
        front.add_port(ClientPort(listener, bool(tls), grpc_path, _hand_over(handoff, index)))
    front.start()
    try:
        handoff.send(b"R")
        while True:
            try:
                request = control.recv(16)
            except InterruptedError:
                continue
            except OSError:
                break
            if not request:
                break
            if request == b"D":
                dropped = drop_client_connections(ports)
                control.send(b"D%d" % (-1 if dropped is None else dropped))
    except OSError:
        pass
    finally:
        front.stop()


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(json.loads(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
