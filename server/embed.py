"""Run etcdlite inside your own process.

    from etcdlite.embed import EtcdLite

    with EtcdLite() as etcd:                 # in memory, on a free port, in a background thread
        client = etcd3.client(port=etcd.port)

    async with EtcdLite(data_dir=tmp) as etcd:   # on the caller's event loop, persisted in tmp
        ...

Threaded use runs the server on its own event loop in a daemon thread; asyncio use runs it on the
running loop. ``stop`` (or leaving the ``with`` block) releases the port and the data dir.

For tests (see also the pytest plugin, :mod:`etcdlite.testing.plugin`)::

    etcd.reset()                                  # fresh, empty keyspace on the same server
    etcd = EtcdLite(time_control=True)            # manual clock ...
    etcd.advance(3601)                            # ... expired leases are revoked before this returns
    etcd.save_snapshot("state.json"); etcd.load_snapshot("state.json")
    etcd.inject_error("Put", grpc.StatusCode.UNAVAILABLE, "etcdserver: leader changed", times=1)
    etcd.inject_delay("Range", 0.5); etcd.pause(); etcd.resume(); etcd.drop_connections()
    etcd.clear_faults()

Each of these has an ``..._async`` twin for asyncio code, and both work in either mode. A call
that has to wait for the server (``reset``, ``advance``, the snapshot calls, ``stop``) cannot do so
on the server's own event loop (an ``async with EtcdLite()`` block, or a callback on the threaded
server's loop): there the plain call refuses with an error naming its ``..._async`` twin. The fault
calls (``inject_*``, ``remove_fault``, ``clear_faults``, ``pause``, ``resume``, ``paused``,
``drop_connections``) take effect at once and work as plain calls everywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import shutil
import tempfile
import threading
import weakref
from typing import Any, AsyncIterator, Callable, Iterable, Iterator

import grpc

from . import snapshot as snapshots
from .clock import Clock, ManualClock
from .config import Config
from .faults import Fault
from .runtime import Runtime
from .tls import Certificates, make_test_certificates

#: bound on how long a threaded call into the server's loop may take
_CALL_TIMEOUT = 60.0


class EtcdLite:
    def __init__(self, data_dir: str | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 config: Config | None = None, clock: Clock | None = None,
                 tls: bool | Certificates = False, client_common_name: str | None = None,
                 **options: Any) -> None:
        """``data_dir=None`` keeps everything in memory; ``port=0`` picks a free port.

        ``config`` gives full control; ``options`` set other :class:`Config` fields by name.
        ``clock`` replaces the real clock (e.g. a :class:`etcdlite.clock.ManualClock` in tests).

        ``tls=True`` serves https with certificates made for this server: a throw-away CA (its
        file is ``ca_file``), a server certificate for ``host`` signed by it, and a client
        certificate whose CN is ``client_common_name`` (default ``root``; ``client_cert_file``,
        ``client_key_file``); with ``client_cert_auth=True`` clients must present a certificate
        from that CA. ``tls=`` a :class:`etcdlite.tls.Certificates` serves with those files instead.
        ``auto_tls=True`` is etcd's --auto-tls (a self-signed certificate; ``ca_file`` is it).

        The client port is served by a thread of this process that hands each gRPC connection to
        grpc core (``docs/shared-client-port.md``); ``client_port_front="process"`` accepts and
        forwards from a process of its own instead.
        """
        self.certificates: Certificates | None = None
        if config is None:
            options = self._tls_options(tls, host, client_common_name, options)
            secure = bool(tls or options.get("auto_tls") or options.get("cert_file"))
            options.setdefault("listen_client_urls",
                               [f"{'https' if secure else 'http'}://{_url_host(host)}:{port}"])
            config = Config(data_dir=data_dir, **options)
        elif tls or client_common_name is not None:
            raise TypeError("EtcdLite: give tls=... (and client_common_name) or config=..., not both")
        if clock is None and config.time_control:
            clock = ManualClock()
        self.config = config
        self.clock = clock
        self._runtime: Runtime | None = None
        #: the loop the server runs on: the caller's (asyncio) or the background thread's
        self._loop: asyncio.AbstractEventLoop | None = None
        #: the background thread of a threaded server (None for asyncio use)
        self._thread: threading.Thread | None = None

    def _tls_options(self, tls: bool | Certificates, host: str, client_common_name: str | None,
                     options: dict[str, Any]) -> dict[str, Any]:
        if not tls:
            if client_common_name is not None:
                raise TypeError("EtcdLite: client_common_name needs tls=True")
            return options
        if tls is True:
            directory = tempfile.mkdtemp(prefix="etcdlite-tls-")
            weakref.finalize(self, shutil.rmtree, directory, True)
            tls = make_test_certificates(directory, hosts=[host, "127.0.0.1", "localhost"],
                                         client_common_name=client_common_name or "root")
        elif client_common_name is not None:
            raise TypeError("EtcdLite: client_common_name applies to tls=True (generated "
                            "certificates), not to given ones")
        self.certificates = tls
        options = dict(options)
        options.setdefault("cert_file", str(tls.server_cert))
        options.setdefault("key_file", str(tls.server_key))
        if options.get("client_cert_auth"):
            options.setdefault("trusted_ca_file", str(tls.ca_file))
        return options

    # -- where to connect -------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The first client URL, e.g. ``http://127.0.0.1:41234`` (``https://`` with TLS)."""
        return self._running().client_urls[0]

    @property
    def urls(self) -> list[str]:
        """Every client URL the server listens on, as bound (the ports are the real ones)."""
        return list(self._running().client_urls)

    @property
    def failure(self) -> BaseException | None:
        """The disk error after which nothing can be made durable (every write then answers
        UNAVAILABLE "etcdserver: server stopped"; the command line exits instead), or None."""
        runtime = self._runtime
        return runtime.failure if runtime is not None else None

    @property
    def http_urls(self) -> list[str]:
        """The bound ``listen_client_http_urls`` (HTTP only; then :attr:`urls` serve gRPC only).
        Without them, every client URL serves HTTP (JSON gateway, /health, /metrics) too."""
        return list(self._running().http_urls)

    @property
    def metrics_urls(self) -> list[str]:
        """The bound ``listen_metrics_urls`` (/metrics and the health endpoints)."""
        return list(self._running().metrics_urls)

    @property
    def tls(self) -> bool:
        """Whether the first client URL is https."""
        return self.url.startswith("https://")

    @property
    def ca_file(self) -> str | None:
        """The CA certificate a client verifies this server with: the test CA of ``tls=True``
        (or of the given Certificates), the self-signed certificate itself with ``auto_tls``."""
        if self.certificates is not None:
            return str(self.certificates.ca_file)
        runtime = self._runtime
        if runtime is not None and runtime.auto_tls_files is not None:
            return runtime.auto_tls_files[0]
        return None

    @property
    def client_cert_file(self) -> str | None:
        """A client certificate signed by the test CA (CN ``client_common_name``), or None."""
        return str(self.certificates.client_cert) if self.certificates is not None else None

    @property
    def client_key_file(self) -> str | None:
        return str(self.certificates.client_key) if self.certificates is not None else None

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """Credentials for ``grpc.secure_channel(etcd.endpoint, ...)``: trusting ``ca_file`` and
        presenting the client certificate (when there is one)."""
        ca_file = self.ca_file
        if ca_file is None:
            raise RuntimeError("this server has no TLS certificates (EtcdLite(tls=True) makes some)")
        with open(ca_file, "rb") as file:
            roots = file.read()
        if self.certificates is None:
            return grpc.ssl_channel_credentials(root_certificates=roots)
        return grpc.ssl_channel_credentials(
            root_certificates=roots, private_key=self.certificates.client_key.read_bytes(),
            certificate_chain=self.certificates.client_cert.read_bytes())

    @property
    def endpoint(self) -> str:
        """``host:port`` for gRPC channels and etcdctl's ``--endpoints``."""
        return self.url.split("://", 1)[1]

    @property
    def host(self) -> str:
        return self.endpoint.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1])

    @property
    def node(self):
        """The core (store, identity); touch it only from the server's event loop."""
        return self._running().node

    def _running(self) -> Runtime:
        if self._runtime is None or self._runtime.node is None:
            raise RuntimeError("etcdlite is not running")
        return self._runtime

    # -- asyncio ----------------------------------------------------------------------------

    async def start_async(self) -> "EtcdLite":
        """Start on the running event loop; return once serving."""
        if self._runtime is not None:
            raise RuntimeError("already started")
        runtime = Runtime(self.config, self.clock)
        await runtime.start()
        self._runtime = runtime
        self._loop = asyncio.get_running_loop()
        return self

    async def stop_async(self) -> None:
        """Stop and wait until the port and the data dir are released (from any event loop)."""
        loop = self._loop
        if self._runtime is None or loop is None:
            return
        if _running_loop() is loop:
            await self._stop_here()
            if self._thread is not None:  # a threaded server stopped from a callback on its loop
                loop.call_soon(loop.stop)
                self._loop = self._thread = None
        elif self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.stop)
        else:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._stop_here(), loop))

    async def _stop_here(self) -> None:
        runtime, self._runtime = self._runtime, None
        if self._thread is None:
            self._loop = None
        if runtime is not None:
            await runtime.stop()

    async def __aenter__(self) -> "EtcdLite":
        return await self.start_async()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.stop_async()

    # -- threads ----------------------------------------------------------------------------

    def start(self) -> "EtcdLite":
        """Start on a private event loop in a background thread; return once serving."""
        if self._thread is not None or self._runtime is not None:
            raise RuntimeError("already started")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = thread = threading.Thread(target=run, name="etcdlite", daemon=True)
        thread.start()
        ready.wait()
        if failure:
            thread.join()
            self._loop = self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop the server and wait until its port and files are released. From the server's own
        event loop, where it cannot wait, this refuses: use ``await stop_async()`` there."""
        loop, thread = self._loop, self._thread
        if self._runtime is None or loop is None:
            return
        self._refuse_on_server_loop("stop")
        asyncio.run_coroutine_threadsafe(self._stop_here(), loop).result()
        if thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            self._loop = self._thread = None

    def __enter__(self) -> "EtcdLite":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # -- calling into the server's loop -----------------------------------------------------

    def _on_server_loop(self) -> bool:
        return self._loop is not None and _running_loop() is self._loop

    def _refuse_on_server_loop(self, name: str) -> None:
        if self._on_server_loop():
            raise RuntimeError(
                f"EtcdLite.{name}() was called on the server's own event loop, where it cannot "
                f"wait for the server; use `await etcd.{name}_async(...)` there")

    def _call(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` (a function or a coroutine function) on the server's loop and wait.
        On that loop itself a plain function runs at once; a coroutine function, which cannot be
        waited for there, is refused with an error naming the ``name_async`` twin."""
        self._running()
        if self._on_server_loop():
            if inspect.iscoroutinefunction(fn):
                self._refuse_on_server_loop(name)
            return fn(*args)
        return asyncio.run_coroutine_threadsafe(_invoke(fn, args), self._loop).result(_CALL_TIMEOUT)

    async def _call_async(self, fn: Callable[..., Any], *args: Any) -> Any:
        self._running()
        if self._on_server_loop():
            return await _invoke(fn, args)
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_invoke(fn, args), self._loop))

    # -- fresh state ------------------------------------------------------------------------

    def reset(self) -> None:
        """Make the keyspace fresh and empty (revision 1, no history, leases, watchers, alarms) on
        the same server and port. Calls in progress (watch and keep-alive streams, Observe, Lock
        and Campaign waiters, calls held by a fault) end with CANCELLED; faults are cleared."""
        self._call("reset", self._running().reset)

    async def reset_async(self) -> None:
        await self._call_async(self._running().reset)

    # -- time -------------------------------------------------------------------------------

    def _manual_clock(self) -> ManualClock:
        if not isinstance(self.clock, ManualClock):
            raise RuntimeError("this server runs on the real clock; create it with "
                               "EtcdLite(time_control=True) (or clock=ManualClock()) to move time")
        return self.clock

    def now(self) -> float:
        """The server's clock reading in seconds (arbitrary origin)."""
        return (self.clock or self._running().node.clock).now()

    def advance(self, seconds: float) -> int:
        """Move the manual clock forward; return once every lease that expired is revoked (with
        its keys, releasing locks and handing elections over), with how many were revoked."""
        self._manual_clock()
        return self._call("advance", self._running().advance_clock, seconds)

    async def advance_async(self, seconds: float) -> int:
        self._manual_clock()
        return await self._call_async(self._running().advance_clock, seconds)

    # -- snapshots --------------------------------------------------------------------------

    def snapshot(self) -> snapshots.Snapshot:
        """The whole keyspace (history, revisions, leases) as a :class:`etcdlite.snapshot.Snapshot`."""
        return self._call("snapshot", self._running().snapshot)

    async def snapshot_async(self) -> snapshots.Snapshot:
        return await self._call_async(self._running().snapshot)

    def save_snapshot(self, path: str | os.PathLike, format: str = "json") -> snapshots.Snapshot:
        """Write the whole keyspace to ``path``: ``format="json"``, etcdlite's readable JSON
        snapshot; ``format="etcd"``, etcd's own (what ``etcdctl snapshot save`` gets: a real
        etcd restores it, and it carries users and roles too). Returns what was saved."""
        self._refuse_on_server_loop("save_snapshot")
        if _snapshot_format(format) == "etcd":
            return self._call("save_snapshot", self._running().save_etcd_snapshot, os.fspath(path))
        snapshot = self.snapshot()
        snapshots.save(snapshot, path)
        return snapshot

    async def save_snapshot_async(self, path: str | os.PathLike,
                                  format: str = "json") -> snapshots.Snapshot:
        if _snapshot_format(format) == "etcd":
            return await self._call_async(self._running().save_etcd_snapshot, os.fspath(path))
        snapshot = await self.snapshot_async()
        snapshots.save(snapshot, path)
        return snapshot

    def load_snapshot(self, source: str | os.PathLike | snapshots.Snapshot) -> None:
        """Replace the keyspace with a snapshot (a file in either format of :meth:`save_snapshot`,
        also one ``etcdctl snapshot save`` took from a real etcd, or a :class:`Snapshot`). Calls in
        progress end as on :meth:`reset`."""
        self._refuse_on_server_loop("load_snapshot")
        snapshot = source if isinstance(source, snapshots.Snapshot) else snapshots.load(source)
        self._call("load_snapshot", self._running().restore, snapshot)

    async def load_snapshot_async(self, source: str | os.PathLike | snapshots.Snapshot) -> None:
        snapshot = source if isinstance(source, snapshots.Snapshot) else snapshots.load(source)
        await self._call_async(self._running().restore, snapshot)

    # -- faults -----------------------------------------------------------------------------

    def inject_error(self, methods: str | Iterable[str] | None, code: grpc.StatusCode | str,
                     message: str = "", times: int | None = None) -> Fault:
        """Answer calls of ``methods`` (``"Put"``, ``"KV/Put"``, ``["Range", "Txn"]``, ``"*"``) with
        status ``code`` and ``message`` instead of serving them; ``times`` limits how many calls
        are affected (None: until cleared). Returns the :class:`~etcdlite.faults.Fault`, whose
        ``fired`` counts the calls it answered."""
        return self._call("inject_error", self._running().calls.inject_error, methods, code, message,
                          times)

    async def inject_error_async(self, methods: str | Iterable[str] | None,
                                 code: grpc.StatusCode | str, message: str = "",
                                 times: int | None = None) -> Fault:
        return await self._call_async(self._running().calls.inject_error, methods, code, message,
                                      times)

    def inject_delay(self, methods: str | Iterable[str] | None, seconds: float,
                     times: int | None = None) -> Fault:
        """Hold calls of ``methods`` for ``seconds`` (real time) before serving them."""
        return self._call("inject_delay", self._running().calls.inject_delay, methods, seconds, times)

    async def inject_delay_async(self, methods: str | Iterable[str] | None, seconds: float,
                                 times: int | None = None) -> Fault:
        return await self._call_async(self._running().calls.inject_delay, methods, seconds, times)

    @property
    def active_faults(self) -> list[Fault]:
        """The faults in force (a fault with ``times`` goes once it has fired that often)."""
        return self._call("active_faults", lambda: self._running().calls.faults)

    @property
    def is_paused(self) -> bool:
        return self._running().calls.paused

    def remove_fault(self, fault: Fault) -> None:
        self._call("remove_fault", self._running().calls.remove, fault)

    async def remove_fault_async(self, fault: Fault) -> None:
        await self._call_async(self._running().calls.remove, fault)

    def clear_faults(self) -> None:
        """Remove every injected fault and lift a pause."""
        self._call("clear_faults", self._running().calls.clear)

    async def clear_faults_async(self) -> None:
        await self._call_async(self._running().calls.clear)

    def pause(self) -> None:
        """Hold every call (new calls, and the messages of open streams) until :meth:`resume`."""
        self._call("pause", self._running().calls.pause)

    async def pause_async(self) -> None:
        await self._call_async(self._running().calls.pause)

    def resume(self) -> None:
        self._call("resume", self._running().calls.resume)

    async def resume_async(self) -> None:
        await self._call_async(self._running().calls.resume)

    @contextlib.contextmanager
    def paused(self) -> Iterator["EtcdLite"]:
        """``with etcd.paused(): ...`` — paused inside the block, resumed when it is left."""
        self.pause()
        try:
            yield self
        finally:
            self.resume()

    @contextlib.asynccontextmanager
    async def paused_async(self) -> AsyncIterator["EtcdLite"]:
        """``async with etcd.paused_async(): ...``"""
        await self.pause_async()
        try:
            yield self
        finally:
            await self.resume_async()

    def drop_connections(self) -> int:
        """Close every open client connection at once (clients see UNAVAILABLE for calls in flight
        and reconnect); the server keeps listening. Returns how many connections were dropped
        (-1: the platform cannot list connections, so the listeners were restarted instead)."""
        runtime = self._running()
        if not self._on_server_loop():
            return self._call("drop_connections", runtime.drop_connections)
        dropped = runtime.drop_connections_now()
        if dropped is None:  # restarting the listeners has to wait for the server
            self._refuse_on_server_loop("drop_connections")
        return dropped

    async def drop_connections_async(self) -> int:
        return await self._call_async(self._running().drop_connections)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


async def _invoke(fn: Callable[..., Any], args: tuple) -> Any:
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


def _snapshot_format(format: str) -> str:
    if format not in ("json", "etcd"):
        raise ValueError(f"snapshot format {format!r}: 'json' (etcdlite's) or 'etcd' (etcd's own)")
    return format
