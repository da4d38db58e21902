"""Run etcdlite inside your own process.

    from server.embed import EtcdLite

    with EtcdLite() as etcd:                 # in memory, on a free port, in a background thread
        client = etcd3.client(port=etcd.port)

    async with EtcdLite(data_dir=tmp) as etcd:   # on the caller's event loop, persisted in tmp
        ...

Threaded use runs the server on its own event loop in a daemon thread; asyncio use runs it on the
running loop. ``stop`` (or leaving the ``with`` block) releases the port and the data dir.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from .clock import Clock
from .config import Config
from .runtime import Runtime


class EtcdLite:
    def __init__(self, data_dir: str | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 config: Config | None = None, clock: Clock | None = None, **options: Any) -> None:
        """``data_dir=None`` keeps everything in memory; ``port=0`` picks a free port.

        ``config`` gives full control; ``options`` set other :class:`Config` fields by name.
        ``clock`` replaces the real clock (e.g. a :class:`server.clock.ManualClock` in tests).
        """
        if config is None:
            config = Config(data_dir=data_dir, listen_client_urls=[f"http://{host}:{port}"], **options)
        self.config = config
        self.clock = clock
        self._runtime: Runtime | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- where to connect -------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The first client URL, e.g. ``http://127.0.0.1:41234``."""
        return self._running().client_urls[0]

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
        if self._runtime is not None:
            raise RuntimeError("already started")
        runtime = Runtime(self.config, self.clock)
        await runtime.start()
        self._runtime = runtime
        return self

    async def stop_async(self) -> None:
        runtime, self._runtime = self._runtime, None
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

        thread = threading.Thread(target=run, name="etcdlite", daemon=True)
        thread.start()
        ready.wait()
        if failure:
            thread.join()
            raise failure[0]
        self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        """Stop the background server and wait until its port and files are released."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.stop_async(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        self._loop = self._thread = None

    def __enter__(self) -> "EtcdLite":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
