"""One running etcdlite: backend, node and gRPC server, started and stopped on an event loop."""

from __future__ import annotations

import logging

import grpc

from .clock import Clock
from .config import Config
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
        return LmdbBackend(config.data_dir)
    except StorageError as exc:
        raise StartupError(str(exc)) from None


class Runtime:
    def __init__(self, config: Config, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock
        self.node: Node | None = None
        self.grpc: grpc.aio.Server | None = None
        self.client_urls: list[str] = []

    async def start(self) -> None:
        addresses = _listen_addresses(self.config)
        backend = open_backend(self.config)
        try:
            self.node = Node(self.config, backend, client_urls=[], clock=self.clock)
            self.node.start()
            self.grpc = build_server(self.node)
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
