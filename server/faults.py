"""Fault injection and call control, in the gRPC layer (a grpc.aio server interceptor).

Tests of client resilience make the server misbehave on purpose, through the in-process API
(:class:`etcdlite.embed.EtcdLite`): answer chosen methods with a chosen status (optionally only N
times), delay chosen methods, pause the whole server, drop every client connection. Nothing of this
is on by default and nothing changes in normal operation.

The interceptor also ends the long-lived calls (watch and keep-alive streams, Observe, and Lock and
Campaign, which may wait indefinitely) when the keyspace is reset, so no stream of a previous test
survives into the next one.

Cost when no fault is set: each call passes the interceptor, which returns the registered handler
untouched, except for the long-lived methods, whose handler is wrapped once (cached) to record the
call's task. Faults apply to calls that start while they are set; a pause also holds the messages of
streams already open. The admin service (``etcdlite.admin.v1``) is never affected.

Everything here runs on the server's event loop; :class:`etcdlite.embed.EtcdLite` takes calls from
other threads there.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable

import grpc

log = logging.getLogger("etcdlite.faults")

ADMIN_PREFIX = "/etcdlite.admin.v1."
#: unary methods that may wait indefinitely (for the lock holder, for leadership)
_WAITING_METHODS = {"/v3lockpb.Lock/Lock", "/v3electionpb.Election/Campaign"}

#: what calls that are ended by a reset answer
RESET_CODE = grpc.StatusCode.CANCELLED
RESET_DETAILS = "etcdlite: keyspace reset (the call was ended by a reset of the server)"


# -- method names -----------------------------------------------------------------------------

_CATALOG: tuple[dict[str, str], dict[str, bool]] | None = None


def _catalog() -> tuple[dict[str, str], dict[str, bool]]:
    """(name -> full method path for every accepted spelling, full path -> long-lived)."""
    global _CATALOG
    if _CATALOG is None:
        from .proto import rpc_pb2, v3election_pb2, v3lock_pb2

        names: dict[str, str] = {}
        long_lived: dict[str, bool] = {}
        bare: dict[str, list[str]] = {}
        for module in (rpc_pb2, v3lock_pb2, v3election_pb2):
            for service in module.DESCRIPTOR.services_by_name.values():
                for method in service.methods:
                    path = f"/{service.full_name}/{method.name}"
                    long_lived[path] = (method.client_streaming or method.server_streaming
                                        or path in _WAITING_METHODS)
                    for spelling in (path, path[1:], f"{service.name}/{method.name}",
                                     f"{service.name}.{method.name}", f"{service.full_name}.{method.name}"):
                        names[spelling] = path
                    bare.setdefault(method.name, []).append(path)
        for name, paths in bare.items():
            if len(paths) == 1:
                names.setdefault(name, paths[0])
        _CATALOG = names, long_lived
    return _CATALOG


def long_lived_methods() -> frozenset[str]:
    return frozenset(path for path, flag in _catalog()[1].items() if flag)


def resolve_methods(methods: str | Iterable[str] | None) -> frozenset[str] | None:
    """Full gRPC paths for method names; ``None`` or ``"*"`` means every method.

    Accepted spellings: ``"Put"``, ``"KV/Put"``, ``"KV.Put"``, ``"etcdserverpb.KV/Put"``,
    ``"/etcdserverpb.KV/Put"`` (a bare name only where it is unique: ``"Lock"`` is the Lock
    service's Lock method).
    """
    if methods is None or methods == "*":
        return None
    if isinstance(methods, str):
        methods = [methods]
    names = _catalog()[0]
    resolved = set()
    for name in methods:
        if name == "*":
            return None
        path = names.get(name)
        if path is None:
            known = sorted({p for p in names.values()})
            raise ValueError(f"unknown gRPC method {name!r}; use e.g. 'Put', 'KV/Put' or one of {known}")
        resolved.add(path)
    if not resolved:
        raise ValueError("no methods given (use '*' for all)")
    return frozenset(resolved)


# -- faults -----------------------------------------------------------------------------------

@dataclass(eq=False)
class Fault:
    """One injected fault. ``fired`` counts the calls it affected; ``remaining`` is None for a fault
    without limit, else how many more calls it will affect."""

    kind: str  # "error" or "delay"
    methods: frozenset[str] | None  # None: every method
    code: grpc.StatusCode | None = None
    message: str = ""
    seconds: float = 0.0
    remaining: int | None = None
    fired: int = 0

    def matches(self, method: str) -> bool:
        return self.methods is None or method in self.methods

    def describe(self) -> str:
        what = (f"error {self.code.name} {self.message!r}" if self.kind == "error"
                else f"delay {self.seconds}s")
        where = "every method" if self.methods is None else ", ".join(sorted(self.methods))
        times = "" if self.remaining is None else f", {self.remaining} more time(s)"
        return f"{what} on {where}{times}"


def _uncancel(task: asyncio.Task) -> None:
    uncancel = getattr(task, "uncancel", None)  # Python 3.11+
    if uncancel is not None:
        uncancel()


class CallControl(grpc.aio.ServerInterceptor):
    """The interceptor: injected faults, the pause gate, and the registry of long-lived calls."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._resumed: asyncio.Event | None = None  # set while paused; released by resume()
        self._active = False  # any fault or a pause: calls take the slow path
        self._long_lived = long_lived_methods()
        self._wrapped: dict[str, tuple[Any, Any]] = {}
        self._calls: set[asyncio.Task] = set()
        self._ending: dict[asyncio.Task, tuple[grpc.StatusCode, str]] = {}

    # -- configuration (on the server's loop) -----------------------------------------------

    def inject_error(self, methods: str | Iterable[str] | None, code: grpc.StatusCode | str,
                     message: str = "", times: int | None = None) -> Fault:
        if isinstance(code, str) and code.upper() in grpc.StatusCode.__members__:
            code = grpc.StatusCode[code.upper()]
        if not isinstance(code, grpc.StatusCode) or code == grpc.StatusCode.OK:
            raise ValueError(f"an error needs a non-OK grpc.StatusCode, not {code!r}")
        return self._add(Fault("error", resolve_methods(methods), code=code, message=message,
                               remaining=_times(times)))

    def inject_delay(self, methods: str | Iterable[str] | None, seconds: float,
                     times: int | None = None) -> Fault:
        if not seconds >= 0:
            raise ValueError(f"a delay must be >= 0 seconds, not {seconds!r}")
        return self._add(Fault("delay", resolve_methods(methods), seconds=float(seconds),
                               remaining=_times(times)))

    def _add(self, fault: Fault) -> Fault:
        self._faults.append(fault)
        self._update()
        log.info("fault injected: %s", fault.describe())
        return fault

    def remove(self, fault: Fault) -> None:
        if fault in self._faults:
            self._faults.remove(fault)
            self._update()

    @property
    def faults(self) -> list[Fault]:
        return list(self._faults)

    def pause(self) -> None:
        if self._resumed is None:
            self._resumed = asyncio.Event()
            self._update()
            log.info("server paused: calls wait until resume")

    def resume(self) -> None:
        resumed, self._resumed = self._resumed, None
        if resumed is not None:
            resumed.set()
            self._update()
            log.info("server resumed")

    @property
    def paused(self) -> bool:
        return self._resumed is not None

    def clear(self) -> None:
        """Remove every fault and resume."""
        self._faults.clear()
        self.resume()
        self._update()

    def _update(self) -> None:
        self._active = bool(self._faults) or self._resumed is not None

    # -- ending calls -----------------------------------------------------------------------

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    async def end_calls(self, code: grpc.StatusCode = RESET_CODE, details: str = RESET_DETAILS,
                        timeout: float = 5.0) -> int:
        """End every tracked call (long-lived ones, and any call held by a fault) with ``code``;
        return once they are finished (or ``timeout`` passed). Returns how many were ended."""
        tasks = [task for task in self._calls if not task.done()]
        for task in tasks:
            self._ending[task] = (code, details)
            task.cancel()
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=timeout)
            if pending:
                log.warning("%d call(s) did not end within %ss", len(pending), timeout)
        return len(tasks)

    # -- the interceptor --------------------------------------------------------------------

    async def intercept_service(self, continuation: Callable[[Any], Awaitable[Any]],
                                handler_call_details: Any) -> Any:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not (self._active or method in self._long_lived) \
                or method.startswith(ADMIN_PREFIX):
            return handler
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, method: str, handler: Any) -> Any:
        kwargs = dict(request_deserializer=handler.request_deserializer,
                      response_serializer=handler.response_serializer)
        if not handler.response_streaming:
            inner = handler.stream_unary if handler.request_streaming else handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                return await self._run(method, context, lambda: inner(request, context))

            factory = (grpc.stream_unary_rpc_method_handler if handler.request_streaming
                       else grpc.unary_unary_rpc_method_handler)
            return factory(unary, **kwargs)

        inner = handler.stream_stream if handler.request_streaming else handler.unary_stream

        async def stream(request: Any, context: grpc.aio.ServicerContext) -> None:
            await self._run(method, context, lambda: self._relay(inner, request, context))

        factory = (grpc.stream_stream_rpc_method_handler if handler.request_streaming
                   else grpc.unary_stream_rpc_method_handler)
        return factory(stream, **kwargs)

    async def _relay(self, inner: Callable, request: Any, context: grpc.aio.ServicerContext) -> None:
        """Send a streaming handler's responses ourselves, so every wait of the call is ours."""
        if not inspect.isasyncgenfunction(inner):
            await inner(request, context)  # reader/writer style handler
            return
        responses = inner(request, context)
        try:
            async for response in responses:
                if self._resumed is not None:
                    await self._resumed.wait()
                await context.write(response)
        finally:
            await responses.aclose()

    async def _run(self, method: str, context: grpc.aio.ServicerContext,
                   call: Callable[[], Awaitable[Any]]) -> Any:
        task = asyncio.current_task()
        self._calls.add(task)
        try:
            if self._active:
                await self._before(method, context)
            return await call()
        except asyncio.CancelledError:
            self._calls.discard(task)
            ending = self._ending.pop(task, None)
            if ending is None:
                raise  # the client went away, or the server is stopping
            _uncancel(task)
            await context.abort(*ending)
        finally:
            self._calls.discard(task)
            self._ending.pop(task, None)

    async def _before(self, method: str, context: grpc.aio.ServicerContext) -> None:
        if self._resumed is not None:
            await self._resumed.wait()
        delay = 0.0
        error: Fault | None = None
        for fault in list(self._faults):
            if not fault.matches(method):
                continue
            if fault.kind == "error":
                if error is not None:
                    continue  # one error per call; later ones keep their count
                error = fault
            else:
                delay += fault.seconds
            fault.fired += 1
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
        self._update()
        if delay:
            await asyncio.sleep(delay)
        if error is not None:
            await context.abort(error.code, error.message)


def _times(times: int | None) -> int | None:
    if times is None:
        return None
    if isinstance(times, bool) or not isinstance(times, int) or times < 1:
        raise ValueError(f"times must be a positive integer or None, not {times!r}")
    return times
