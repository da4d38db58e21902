"""What the pytest fixtures hand to a test: one running etcdlite, its address and a ready channel."""

from __future__ import annotations

import os
from typing import Any

import grpc

from ..embed import EtcdLite
from ..runtime import StartupError

#: how long a fixture waits for its channel to connect
READY_TIMEOUT = 10.0


def parse_ports(spec: str) -> range:
    """``"23790"`` or ``"23790-23799"`` (inclusive) as a range of ports; ValueError if malformed."""
    first, dash, last = spec.strip().partition("-")
    try:
        low = int(first)
        high = int(last) if dash else low
    except ValueError:
        raise ValueError(f"not a port or a port range: {spec!r} (e.g. 23790 or 23790-23799)") from None
    if not 1 <= low <= high <= 65535:
        raise ValueError(f"not a port or a port range: {spec!r} (ports 1-65535, first <= last)")
    return range(low, high + 1)


def _start_on(ports: range | None, **options: Any) -> EtcdLite:
    if ports is None:
        return EtcdLite(**options).start()
    for port in ports:
        try:
            return EtcdLite(port=port, **options).start()
        except StartupError as exc:
            if "cannot listen" not in str(exc):
                raise
    where = f"port {ports[0]}" if len(ports) == 1 else f"ports {ports[0]}-{ports[-1]}"
    raise StartupError(f"etcdlite fixture: no free port among {where}; each server needs its own "
                       f"(one per session fixture in use, per pytest-xdist worker): give a wider "
                       f"range, e.g. --etcdlite-port {ports[0]}-{ports[0] + 9}")


class EtcdLiteFixture:
    """A running in-memory etcdlite (threaded, on a free 127.0.0.1 port) for tests.

    ``endpoint`` / ``host`` / ``port`` / ``url`` say where it listens; ``channel`` is a connected
    ``grpc.Channel`` (over TLS for a TLS server: trusting ``ca_file``, presenting the client
    certificate ``client_cert_file``/``client_key_file``) (``kv``, ``lease``, ``watch``, ``lock``, ``election``, ``maintenance`` and
    ``cluster`` are stubs on it); ``server`` is the :class:`etcdlite.embed.EtcdLite`. Time, snapshot
    and fault calls are those of the server: ``advance``, ``save_snapshot``/``load_snapshot``,
    ``inject_error``, ``inject_delay``, ``pause``/``resume``, ``drop_connections``, ``clear_faults``
    (any other attribute is looked up on ``server`` too).
    """

    def __init__(self, server: EtcdLite) -> None:
        self.server = server
        self.endpoint = server.endpoint
        self.host = server.host
        self.port = server.port
        self.url = server.url
        #: TLS servers: the test CA's file, and a client certificate (CN root) and key it signed
        self.ca_file = server.ca_file
        self.client_cert_file = server.client_cert_file
        self.client_key_file = server.client_key_file
        self.channel = grpc.secure_channel(self.endpoint, server.channel_credentials()) \
            if server.tls else grpc.insecure_channel(self.endpoint)
        grpc.channel_ready_future(self.channel).result(timeout=READY_TIMEOUT)
        self._stubs: dict[str, Any] = {}

    @classmethod
    def start(cls, ports: range | None = None, **options: Any) -> "EtcdLiteFixture":
        """Start a server on the first free port of ``ports`` (None: any free port)."""
        server = _start_on(ports, **options)
        try:
            return cls(server)
        except BaseException:
            server.stop()
            raise

    def close(self) -> None:
        self.channel.close()
        self.server.stop()

    def __repr__(self) -> str:
        clock = "manual clock" if self.server.config.time_control else "real clock"
        return f"<EtcdLiteFixture {self.url} ({clock})>"

    # -- the usual calls ------------------------------------------------------------------------

    def reset(self) -> None:
        """A fresh, empty keyspace (see :meth:`etcdlite.embed.EtcdLite.reset`)."""
        self.server.reset()

    def advance(self, seconds: float) -> int:
        """Move the manual clock; expired leases are revoked before this returns (only for the
        manual-clock fixtures)."""
        return self.server.advance(seconds)

    def now(self) -> float:
        return self.server.now()

    def save_snapshot(self, path: str | os.PathLike) -> Any:
        return self.server.save_snapshot(path)

    def load_snapshot(self, source: Any) -> None:
        self.server.load_snapshot(source)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "server":
            raise AttributeError(name)
        return getattr(self.server, name)

    # -- stubs on the channel -------------------------------------------------------------------

    def _stub(self, name: str) -> Any:
        stub = self._stubs.get(name)
        if stub is None:
            from ..proto import rpc_pb2_grpc, v3election_pb2_grpc, v3lock_pb2_grpc

            module = {"Lock": v3lock_pb2_grpc, "Election": v3election_pb2_grpc}.get(name, rpc_pb2_grpc)
            stub = self._stubs[name] = getattr(module, f"{name}Stub")(self.channel)
        return stub

    @property
    def kv(self) -> Any:
        return self._stub("KV")

    @property
    def lease(self) -> Any:
        return self._stub("Lease")

    @property
    def watch(self) -> Any:
        return self._stub("Watch")

    @property
    def lock(self) -> Any:
        return self._stub("Lock")

    @property
    def election(self) -> Any:
        return self._stub("Election")

    @property
    def maintenance(self) -> Any:
        return self._stub("Maintenance")

    @property
    def cluster(self) -> Any:
        return self._stub("Cluster")
