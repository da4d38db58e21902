"""Dropping a process's accepted client connections, as a network failure would.

Standard library only: the client-port front process (``front_child.py``) runs it too.
"""

from __future__ import annotations

import os
import socket
from typing import Iterable


def drop_client_connections(ports: Iterable[int]) -> int | None:
    """Close (shut down) every accepted TCP connection of this process on the given local ports.

    The listening sockets stay open, so clients reconnect at once; to them it looks like a network
    failure (their calls in flight end with UNAVAILABLE). Returns how many connections were dropped,
    or None where the platform offers no way to find them (no ``/proc``): the caller then restarts
    the listeners instead.
    """
    ports = set(ports)
    tables = ["/proc/self/net/tcp", "/proc/self/net/tcp6"]
    if not os.path.exists(tables[0]) or not os.path.isdir("/proc/self/fd"):
        return None
    inodes: set[str] = set()
    for table in tables:
        try:
            with open(table) as fh:
                next(fh, None)
                for line in fh:
                    fields = line.split()
                    if len(fields) < 10:
                        continue
                    local_port = int(fields[1].rsplit(":", 1)[1], 16)
                    if local_port in ports and fields[3] != "0A":  # 0A: LISTEN
                        inodes.add(fields[9])
        except OSError:
            continue
    dropped = 0
    if not inodes:
        return 0
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if not (target.startswith("socket:[") and target[8:-1] in inodes):
            continue
        try:
            dup = os.dup(int(name))
        except OSError:
            continue
        try:
            # The descriptor may have been closed and reused since readlink: check it is the socket.
            if str(os.fstat(dup).st_ino) != target[8:-1]:
                continue
            sock = socket.socket(fileno=dup)
            dup = -1
            try:
                sock.shutdown(socket.SHUT_RDWR)
                dropped += 1
            except OSError:
                pass
            finally:
                sock.close()
        finally:
            if dup >= 0:
                os.close(dup)
    return dropped
