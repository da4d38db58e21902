"""One running etcdlite: backend, node and gRPC server, started and stopped on an event loop."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass

import grpc

from . import snapshot as snapshots
from .clock import Clock, ManualClock
from .config import Config
from .faults import CallControl
from .api.services import Served, etcd_services
from .grpc_server import build_server
from .http import front_process, handover
from .http.drop import drop_client_connections
from .http.front import ClientPort, Front
from .http.front_process import FrontProcess
from .http.handover import HandoverSet
from .http.routes import HttpMux
from .http.serving import HttpServing, bind_listener, server_ssl_context
from .node import Node
from .storage.backend import Backend, StorageError
from .storage.lmdb_backend import LmdbBackend
from .storage.memory import MemoryBackend
from . import etcd_messages as msg
from . import tls
from .urls import URLError, split_url

log = logging.getLogger("etcdlite")


class StartupError(Exception):
    """The server cannot start: bad configuration, unusable port or data dir."""


@dataclass(frozen=True)
class Listener:
    url: str
    scheme: str
    host: str
    port: int


def _listeners(urls: list[str]) -> list[Listener]:
    listeners: list[Listener] = []
    for url in urls:
        try:
            scheme, host, port = split_url(url)
        except URLError as exc:
            raise StartupError(str(exc)) from None
        if scheme not in ("http", "https"):
            raise StartupError(f"unsupported listen URL scheme {scheme!r} in {url} "
                               "(only http and https)")
        listeners.append(Listener(url, scheme, host, port))
    return listeners


def _listen_addresses(config: Config) -> list[Listener]:
    listeners = _listeners(config.listen_client_urls)
    if not listeners:
        raise StartupError("no --listen-client-urls given")
    schemes: dict[tuple[str, int], set[str]] = {}
    for listener in listeners:
        schemes.setdefault((listener.host, listener.port), set()).add(listener.scheme)
    for (host, port), seen in schemes.items():
        if len(seen) > 1 and port != 0:
            raise StartupError(f"cannot serve both http and https on {_bind_target(host, port)}: "
                               "etcd multiplexes them on one port, etcdlite takes TLS or plaintext "
                               "per port (give them different ports)")
    return listeners


def check_tls_options(config: Config) -> None:
    """etcd's checks of --tls-min-version, --tls-max-version and --cipher-suites (and etcdlite's
    refusal of values gRPC core cannot honour); raises StartupError."""
    try:
        tls.check_tls_options(config.tls_min_version, config.tls_max_version,
                              list(config.cipher_suites))
    except tls.TLSOptionError as exc:
        raise StartupError(str(exc)) from None


def check_node_options(config: Config) -> None:
    """The options the node reads at start that etcd refuses at start (--auth-token,
    --auto-compaction-retention), checked before the data dir is opened; raises StartupError."""
    from .auth.tokens import AuthOptionsError, token_provider
    from .compactor import RetentionError, parse_retention

    try:
        token_provider(config.auth_token, config.auth_token_ttl, time.monotonic)
        parse_retention(config.auto_compaction_mode, config.auto_compaction_retention)
    except (AuthOptionsError, RetentionError) as exc:
        raise StartupError(str(exc)) from None
    except (ValueError, TypeError) as exc:  # a JWT key file that is no PEM key of that kind
        raise StartupError(f"auth: cannot load the JWT key: {exc}") from None


def _bind_target(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _add_port(server: grpc.aio.Server, target: str,
              credentials: grpc.ServerCredentials | None) -> int:
    if credentials is None:
        return server.add_insecure_port(target)
    return server.add_secure_port(target, credentials)


def open_backend(config: Config) -> Backend:
    if config.data_dir is None:
        return MemoryBackend()
    try:
        return LmdbBackend(config.data_dir, quota_bytes=config.quota_backend_bytes)
    except StorageError as exc:
        raise StartupError(str(exc)) from None


class Runtime:
    def __init__(self, config: Config, clock: Clock | None = None, freeze_history: bool = False) -> None:
        """``freeze_history``: the history loaded at start is moved out of the GC's reach
        (``gc.freeze``); only for a process of its own (the command line), never embedded."""
        self.config = config
        self.freeze_history = freeze_history
        if clock is None and config.time_control:
            clock = ManualClock()
        self.clock = clock
        self.node: Node | None = None
        self.grpc: grpc.aio.Server | None = None
        #: the handlers every transport serves (gRPC and the JSON gateway share them)
        self.services: list[Served] = []
        self.client_urls: list[str] = []
        #: the bound --listen-client-http-urls and --listen-metrics-urls
        self.http_urls: list[str] = []
        self.metrics_urls: list[str] = []
        #: the interceptor: fault injection, and the long-lived calls a reset ends
        self.calls = CallControl()
        #: (host, bound port, credentials: None for plaintext, grpc core's own bind target) of
        #: every client URL
        self._listening: list[tuple[str, int, grpc.ServerCredentials | None, str]] = []
        #: the shared client ports' front (a process, or a thread), and the directory of grpc
        #: core's unix sockets
        self._front: Front | FrontProcess | None = None
        self._socket_dir: str | None = None
        self._http: HttpServing | None = None
        self._ui = None
        #: the disk error that stopped the server (etcd exits on one: every later write would fail)
        self.failure: BaseException | None = None
        self.failed: asyncio.Event | None = None
        #: the files TLS listeners serve with (None: no https URL)
        self.tls_files: tls.ServerFiles | None = None
        self._tls_paths: tuple[str, str] | None = None
        #: --auto-tls certificate and key (None unless generated or reused)
        self.auto_tls_files: tuple[str, str] | None = None
        self._auto_tls_dir: str | None = None

    async def start(self) -> None:
        addresses = _listen_addresses(self.config)
        http_addresses = _listeners(self.config.listen_client_http_urls)
        metrics_addresses = _listeners(self.config.listen_metrics_urls)
        check_tls_options(self.config)
        check_node_options(self.config)
        initial = self._read_initial_snapshot()
        backend = open_backend(self.config)
        try:
            # after the backend: it refuses a data dir that has files but no etcdlite data,
            # and the auto-TLS certificate goes to <data-dir>/fixtures/client
            credentials = self._server_credentials(addresses + http_addresses + metrics_addresses)
        except BaseException:
            self._remove_auto_tls_dir()
            backend.close()
            raise
        try:
            try:
                self.node = Node(self.config, backend, client_urls=[], clock=self.clock,
                                 freeze_history=self.freeze_history)
            except StorageError as exc:  # the data dir loads as corrupt
                backend.close()
                raise StartupError(str(exc)) from None
            self.failed = asyncio.Event()
            self.node.disk_failed.append(self._disk_failed)
            self.node.start()
            if initial is not None:
                await self._load_initial_snapshot(initial)
            self.services = etcd_services(self.node)
            self.grpc = build_server(self.node, self.calls, self.services)
            self._http = HttpServing(asyncio.get_running_loop())
            if self.config.enable_ui:
                from .ui.routes import Ui

                self._ui = Ui(self.node)
                self._ui.start()
            client_http = HttpMux(self.node, self._gateway(), client=True,
                                  ui=self._ui.handle if self._ui is not None else None)
            shared = not http_addresses
            if shared:
                self._front = self._make_front()
                self._socket_dir = tempfile.mkdtemp(prefix="etcdlite-grpc-")
            bound = []
            for index, listener in enumerate(addresses):
                secure = credentials if listener.scheme == "https" else None
                if shared:
                    actual = self._share_port(listener, index, secure, client_http)
                else:
                    actual = self._grpc_port(listener, secure)
                bound.append(f"{listener.scheme}://{_bind_target(listener.host, actual)}")
            self.client_urls = bound
            self.http_urls = [await self._serve_http(listener, client_http)
                              for listener in http_addresses]
            metrics_http = HttpMux(self.node, None, client=False)
            self.metrics_urls = [await self._serve_http(listener, metrics_http)
                                 for listener in metrics_addresses]
            self.node.member.client_urls = list(self.config.advertise_client_urls or bound)
            await self.grpc.start()
            if self._front is not None:
                self._front.start()
        except BaseException:
            await self._release()
            raise
        log.info("etcdlite serving clients on %s (%s)", ", ".join(bound),
                 f"data dir {self.config.data_dir}" if self.config.data_dir else "in memory")

    def _make_front(self) -> Front | FrontProcess:
        if self.config.client_port_front == "process" and front_process.available():
            return FrontProcess(asyncio.get_running_loop())
        return Front(HandoverSet() if handover.available() else None)

    def _disk_failed(self, exc: BaseException) -> None:
        """The disk refused a write: nothing after it can be made durable, so stop serving (etcd
        exits), and let whoever runs the server know (the command line exits non-zero)."""
        if self.failure is None:
            self.failure = exc
            log.critical("stopping: the data dir refused a write (%s); nothing written after it "
                         "was acknowledged", exc)
            self.failed.set()

    def _gateway(self):
        if not self.config.enable_grpc_gateway:
            return None
        from .gateway import Gateway

        return Gateway(self.services, self.config.max_request_bytes + 512 * 1024).handle

    def _bind(self, listener: Listener):
        try:
            return bind_listener(listener.host, listener.port)
        except OSError:
            raise StartupError(f"cannot listen on {listener.url}: address in use or not "
                               "available") from None

    def _grpc_port(self, listener: Listener, secure: grpc.ServerCredentials | None) -> int:
        """A client URL that serves gRPC only: grpc core listens on it itself."""
        target = _bind_target(listener.host, listener.port)
        try:
            actual = _add_port(self.grpc, target, secure)
        except RuntimeError:
            actual = 0
        if actual == 0:
            raise StartupError(f"cannot listen on {listener.url}: address in use or not available")
        self._listening.append((listener.host, actual, secure, _bind_target(listener.host, actual)))
        return actual

    def _share_port(self, listener: Listener, index: int, secure: grpc.ServerCredentials | None,
                    handler: HttpMux) -> int:
        """A client URL that serves gRPC and HTTP: the front owns the port (etcdlite.http.front)
        and forwards gRPC to grpc core on a private unix socket with the same credentials."""
        path = os.path.join(self._socket_dir, f"grpc-{index}.sock")
        if _add_port(self.grpc, "unix:" + path, secure) == 0:
            raise StartupError(f"cannot listen on {listener.url}: no unix socket for gRPC at {path}")
        sock = self._bind(listener)
        actual = sock.getsockname()[1]
        context = self._http_ssl_context() if listener.scheme == "https" else None
        self._front.add_port(ClientPort(sock, context is not None, path,
                                        self._http.handoff(handler, context)))
        self._listening.append((listener.host, actual, secure, "unix:" + path))
        return actual

    async def _serve_http(self, listener: Listener, handler: HttpMux) -> str:
        sock = self._bind(listener)
        actual = sock.getsockname()[1]
        context = self._http_ssl_context() if listener.scheme == "https" else None
        await self._http.listen(sock, handler, context)
        return f"{listener.scheme}://{_bind_target(listener.host, actual)}"

    def _http_ssl_context(self):
        cert_file, key_file = self._tls_paths
        return server_ssl_context(cert_file, key_file, self.tls_files.client_roots,
                                  self.config.tls_min_version, self.config.tls_max_version)

    async def stop(self, grace: float | None = 0.5) -> None:
        if self._front is not None:
            self._front.stop_handing_over()
        if self.grpc is not None:
            await self.grpc.stop(grace)
        await self._release()

    async def _release(self) -> None:
        self.grpc = None
        self._listening = []
        if self._front is not None:
            front, self._front = self._front, None
            front.stop()
        if self._http is not None:
            http, self._http = self._http, None
            await http.close()
        if self._ui is not None:
            ui, self._ui = self._ui, None
            ui.stop()
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None
        if self.node is not None:
            node, self.node = self.node, None
            await node.close()
        self._remove_auto_tls_dir()

    # -- TLS --------------------------------------------------------------------------------

    def _server_credentials(self, listeners: list[Listener]) -> grpc.ServerCredentials | None:
        """etcd's ``configureClientListeners`` and ``TLSInfo.ServerConfig``: --auto-tls makes a
        certificate unless one is given; an https URL needs a certificate; the files are read
        and checked only when some URL is https; http URLs ignore them, with etcd's warnings."""
        config = self.config
        cert_file, key_file = config.cert_file or "", config.key_file or ""
        trusted_ca, client_cert_auth = config.trusted_ca_file or "", config.client_cert_auth
        if config.auto_tls:
            if cert_file or key_file:
                log.warning("ignoring client auto TLS since certs given")
            else:
                cert_file, key_file = self._auto_tls_certificate(listeners)
                if trusted_ca or client_cert_auth:
                    log.warning("--auto-tls replaces the client TLS settings, so --trusted-ca-file "
                                "and --client-cert-auth are ignored (as etcd does): clients need "
                                "no certificate")
                trusted_ca, client_cert_auth = "", False
        has_tls = bool(cert_file or key_file)
        for listener in listeners:
            if listener.scheme == "http":
                if has_tls:
                    log.warning("scheme is HTTP while key and cert files are present; ignoring key "
                                "and cert files (client-url %s)", listener.url)
                if client_cert_auth:
                    log.warning("scheme is HTTP while --client-cert-auth is enabled; ignoring client "
                                "cert auth for this URL (client-url %s)", listener.url)
            elif not has_tls:
                raise StartupError(msg.HTTPS_WITHOUT_CERT.format(url=listener.url))
        if not any(listener.scheme == "https" for listener in listeners):
            return None
        try:
            files = tls.server_files(cert_file, key_file, trusted_ca, client_cert_auth)
        except tls.TLSFileError as exc:
            raise StartupError(str(exc)) from None
        self.tls_files = files
        self._tls_paths = (cert_file, key_file)
        return grpc.ssl_server_credentials(
            [(files.private_key, files.certificate_chain)], root_certificates=files.client_roots,
            require_client_auth=files.client_roots is not None)

    def _auto_tls_certificate(self, listeners: list[Listener]) -> tuple[str, str]:
        """etcd's ClientSelfCert: <data-dir>/fixtures/client (kept and reused); in memory, a
        temporary directory removed at stop."""
        years = self.config.self_signed_cert_validity
        if years <= 0:
            raise StartupError("failed to get client self-signed certs: selfSignedCertValidity is "
                               "invalid,it should be greater than 0")
        if self.config.data_dir is not None:
            directory = os.path.join(self.config.data_dir, "fixtures", "client")
        else:
            directory = self._auto_tls_dir = tempfile.mkdtemp(prefix="etcdlite-auto-tls-")
        try:
            cert, key = tls.self_signed(directory, [listener.host for listener in listeners],
                                        days=365 * years)
        except OSError as exc:
            raise StartupError(f"failed to get client self-signed certs: {exc}") from None
        self.auto_tls_files = (str(cert), str(key))
        return str(cert), str(key)

    def _remove_auto_tls_dir(self) -> None:
        if self._auto_tls_dir is not None:
            shutil.rmtree(self._auto_tls_dir, ignore_errors=True)
            self._auto_tls_dir = None

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

    async def save_etcd_snapshot(self, path: str) -> snapshots.Snapshot:
        """Write what ``etcdctl snapshot save`` would get to ``path`` (in a worker thread); return
        the same state as a :class:`Snapshot`."""
        from .auth.caller import INTERNAL

        state = await self.node.backup_state(INTERNAL)
        await asyncio.get_running_loop().run_in_executor(None, snapshots.save_etcd, state, path)
        return snapshots.from_etcd_state(state)

    async def snapshot(self) -> snapshots.Snapshot:
        return await self.node.snapshot()

    async def restore(self, snapshot: snapshots.Snapshot) -> None:
        """Replace the keyspace with ``snapshot``; calls in progress end as on reset."""
        snapshot.validate()
        await self._end_calls()
        await self.node.restore(snapshot)

    async def advance_clock(self, seconds: float) -> int:
        return await self.node.advance_clock(seconds)

    def drop_connections_now(self) -> int | None:
        """Close every client connection (listeners stay): this process's and the front
        process's; how many, or None where the platform cannot find them."""
        dropped = drop_client_connections(port for _, port, _, _ in self._listening)
        if dropped is not None and isinstance(self._front, FrontProcess):
            theirs = self._front.drop_connections()
            dropped = None if theirs is None else dropped + theirs
        return dropped

    async def drop_connections(self) -> int:
        """Close every client connection (listeners stay); return how many were dropped (-1: the
        platform cannot find connections, so the listeners were restarted instead)."""
        dropped = self.drop_connections_now()
        if dropped is not None:
            return dropped
        await self._restart_listeners()
        return -1

    async def _restart_listeners(self) -> None:
        """Stop the gRPC server (closing every connection) and serve again on the same ports."""
        old, self.grpc = self.grpc, build_server(self.node, self.calls, self.services)
        await old.stop(0)
        for host, port, credentials, target in self._listening:
            if _add_port(self.grpc, target, credentials) == 0:
                raise RuntimeError(f"cannot listen on {host}:{port} again")
        await self.grpc.start()
