"""One running etcdlite: backend, node and gRPC server, started and stopped on an event loop."""

from __future__ import annotations

import asyncio
import logging

import grpc

from . import snapshot as snapshots
from .clock import Clock, ManualClock
from .config import Config
from .faults import CallControl, drop_client_connections
from .grpc_server import build_server
from .node import Node
from .storage.backend import Backend, StorageError
from .storage.lmdb_backend import LmdbBackend
from .storage.memory import MemoryBackend
from .urls import URLError, split_url

log = logging.getLogger("etcdlite")


class StartupError(Exception):
    """The server cannot start: bad configuration, unusable port or data dir."""


def _listen_addresses(config: Config) -> list[tuple[str, str, int]]:
    addresses = []
    for url in config.listen_client_urls:
        try:
            scheme, host, port = split_url(url)
        except URLError as exc:
            raise StartupError(str(exc)) from None
        if scheme != "http":
            raise StartupError(f"unsupported listen URL scheme {scheme!r} in {url} (only http)")
        addresses.append((url, host, port))
    if not addresses:
        raise StartupError("no --listen-client-urls given")
    return addresses


def _bind_target(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def open_backend(config: Config) -> Backend:
    if config.data_dir is None:
        return MemoryBackend()
    try:
        return LmdbBackend(config.data_dir, quota_bytes=config.quota_backend_bytes)
    except StorageError as exc:
        raise StartupError(str(exc)) from None


class Runtime:
    def __init__(self, config: Config, clock: Clock | None = None) -> None:
        self.config = config
        if clock is None and config.time_control:
            clock = ManualClock()
        self.clock = clock
        self.node: Node | None = None
        self.grpc: grpc.aio.Server | None = None
        self.client_urls: list[str] = []
        #: the interceptor: fault injection, and the long-lived calls a reset ends
        self.calls = CallControl()
        self._listening: list[tuple[str, int]] = []

    async def start(self) -> None:
        addresses = _listen_addresses(self.config)
        initial = self._read_initial_snapshot()
        backend = open_backend(self.config)
        try:
            self.node = Node(self.config, backend, client_urls=[], clock=self.clock)
            self.node.start()
            if initial is not None:
                await self._load_initial_snapshot(initial)
            self.grpc = build_server(self.node, self.calls)
            bound = []
            for url, host, port in addresses:
                target = _bind_target(host, port)
                try:
                    actual = self.grpc.add_insecure_port(target)
                except RuntimeError:
                    actual = 0
                if actual == 0:
                    raise StartupError(f"cannot listen on {url}: address in use or not available")
                bound.append(f"http://{_bind_target(host, actual)}")
                self._listening.append((host, actual))
            self.client_urls = bound
            self.node.member.client_urls = list(self.config.advertise_client_urls or bound)
            await self.grpc.start()
        except BaseException:
            await self._release()
            raise
        log.info("etcdlite serving clients on %s (%s)", ", ".join(bound),
                 f"data dir {self.config.data_dir}" if self.config.data_dir else "in memory")

    async def stop(self, grace: float | None = 0.5) -> None:
        if self.grpc is not None:
            await self.grpc.stop(grace)
        await self._release()

    async def _release(self) -> None:
        self.grpc = None
        if self.node is not None:
            node, self.node = self.node, None
            await node.close()

    async def wait_closed(self) -> None:
        if self.grpc is not None:
            await self.grpc.wait_for_termination()

    # -- initial snapshot -------------------------------------------------------------------

    def _read_initial_snapshot(self) -> snapshots.Snapshot | None:
        path = self.config.initial_snapshot
        if not path:
            return None
        try:
            return snapshots.load(path)
        except snapshots.SnapshotError as exc:
            raise StartupError(f"cannot load snapshot {path}: {exc}") from None

    async def _load_initial_snapshot(self, snapshot: snapshots.Snapshot) -> None:
        node = self.node
        if node.store.current_revision > 1 or node.lessor.leases_by_expiry():
            raise StartupError(f"data dir {self.config.data_dir} is not empty; a snapshot "
                               f"({self.config.initial_snapshot}) only seeds a new server")
        await node.restore(snapshot)

    # -- test support: reset, snapshots, time, faults ---------------------------------------

    async def _end_calls(self) -> None:
        """End the long-lived calls (and any held by a fault), and let what their ending set off
        (an abandoned lock waiter deleting its key, ...) run on the old state."""
        if await self.calls.end_calls():
            for _ in range(5):
                await asyncio.sleep(0)

    async def reset(self) -> None:
        """A fresh, empty keyspace on the same server: calls in progress end with CANCELLED,
        faults are cleared (a pause is lifted), then the node's state is wiped."""
        await self._end_calls()
        self.calls.clear()
        await self.node.reset()

    async def snapshot(self) -> snapshots.Snapshot:
        return await self.node.snapshot()

    async def restore(self, snapshot: snapshots.Snapshot) -> None:
        """Replace the keyspace with ``snapshot``; calls in progress end as on reset."""
        snapshot.validate()
        await self._end_calls()
        await self.node.restore(snapshot)

    async def advance_clock(self, seconds: float) -> int:
        return await self.node.advance_clock(seconds)

    async def drop_connections(self) -> int:
        """Close every client connection (listeners stay); return how many were dropped (-1: the
        platform cannot find connections, so the listeners were restarted instead)."""
        dropped = drop_client_connections(port for _, port in self._listening)
        if dropped is not None:
            return dropped
        await self._restart_listeners()
        return -1

    async def _restart_listeners(self) -> None:
        """Stop the gRPC server (closing every connection) and serve again on the same ports."""
        old, self.grpc = self.grpc, build_server(self.node, self.calls)
        await old.stop(0)
        for host, port in self._listening:
            if self.grpc.add_insecure_port(_bind_target(host, port)) == 0:
                raise RuntimeError(f"cannot listen on {host}:{port} again")
        await self.grpc.start()
