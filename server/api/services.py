"""The services etcdlite serves: one handler object per etcd service, shared by every transport
(the gRPC adapter and the HTTP gateway serve the same handlers).

Every handler is wrapped so that its calls are counted as go-grpc-prometheus counts them in etcd
(started, messages received and sent, handled with the status code), whichever transport made the
call: etcd's gateway reaches its handlers through a gRPC loopback, so its calls count as gRPC calls.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from typing import Any, AsyncIterator, Callable, NamedTuple

from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from ..errors import EtcdError
from ..node import Node
from ..proto import etcdlite_admin_pb2, rpc_pb2, v3election_pb2, v3lock_pb2
from ..storage.group_commit import DurabilityError
from .admin_service import AdminService
from .auth_service import AuthService
from .cluster_service import ClusterService
from .election_service import ElectionService
from .kv_service import KVService
from .lease_service import LeaseService
from .lock_service import LockService
from .maintenance_service import MaintenanceService
from .malformed import MalformedRequest
from .watch_service import WatchService

#: gRPC status code (grpc.StatusCode member name, as EtcdError.code) -> grpc-go's name for it
GO_CODES = {
    "OK": "OK", "CANCELLED": "Canceled", "UNKNOWN": "Unknown", "INVALID_ARGUMENT": "InvalidArgument",
    "DEADLINE_EXCEEDED": "DeadlineExceeded", "NOT_FOUND": "NotFound", "ALREADY_EXISTS": "AlreadyExists",
    "PERMISSION_DENIED": "PermissionDenied", "RESOURCE_EXHAUSTED": "ResourceExhausted",
    "FAILED_PRECONDITION": "FailedPrecondition", "ABORTED": "Aborted", "OUT_OF_RANGE": "OutOfRange",
    "UNIMPLEMENTED": "Unimplemented", "INTERNAL": "Internal", "UNAVAILABLE": "Unavailable",
    "DATA_LOSS": "DataLoss", "UNAUTHENTICATED": "Unauthenticated",
}


def grpc_type(method: MethodDescriptor) -> str:
    """go-grpc-prometheus's grpc_type label of a method."""
    if method.client_streaming:
        return "bidi_stream" if method.server_streaming else "client_stream"
    return "server_stream" if method.server_streaming else "unary"


class MethodCounts:
    """One method's calls: started, messages received and sent, handled per grpc-go code name."""

    __slots__ = ("service", "method", "type", "started", "received", "sent", "handled")

    def __init__(self, service: str, method: str, kind: str) -> None:
        self.service = service
        self.method = method
        self.type = kind
        self.started = self.received = self.sent = 0
        self.handled = dict.fromkeys(GO_CODES.values(), 0)


class CallCounts:
    """A node's call counts, shared by every set of handlers built for it; also the bytes its gRPC
    transport decoded and encoded (etcd's client_grpc_received/sent_bytes)."""

    def __init__(self) -> None:
        self.methods: dict[tuple[str, str], MethodCounts] = {}
        self.received_bytes = 0
        self.sent_bytes = 0

    def of(self, service: ServiceDescriptor, method: MethodDescriptor) -> MethodCounts:
        key = (service.full_name, method.name)
        counts = self.methods.get(key)
        if counts is None:
            counts = self.methods[key] = MethodCounts(service.full_name, method.name, grpc_type(method))
        return counts


_CALL_COUNTS: "weakref.WeakKeyDictionary[Node, CallCounts]" = weakref.WeakKeyDictionary()


def call_counts(node: Node) -> CallCounts:
    """The call counts of ``node`` (made on first use)."""
    counts = _CALL_COUNTS.get(node)
    if counts is None:
        counts = _CALL_COUNTS[node] = CallCounts()
    return counts


def status_of(exc: BaseException) -> str:
    """The grpc-go code name a call that raised ``exc`` ends with (as the gRPC adapter answers)."""
    if isinstance(exc, EtcdError):
        return GO_CODES.get(exc.code, "Unknown")
    if isinstance(exc, (asyncio.CancelledError, GeneratorExit)):
        return "Canceled"
    if isinstance(exc, DurabilityError):
        return "Unavailable"
    if isinstance(exc, MalformedRequest):
        return "Internal"
    return "Unknown"


def _counted_unary(handler: Callable, counts: MethodCounts) -> Callable:
    handled = counts.handled

    @functools.wraps(handler)
    async def call(request: Any, caller: Any) -> Any:
        counts.started += 1
        counts.received += 1
        try:
            response = await handler(request, caller)
        except BaseException as exc:
            handled[status_of(exc)] += 1
            raise
        handled["OK"] += 1
        counts.sent += 1
        return response

    return call


async def _counted_requests(requests: AsyncIterator[Any], counts: MethodCounts) -> AsyncIterator[Any]:
    async for request in requests:
        counts.received += 1
        yield request


def _counted_stream(handler: Callable, counts: MethodCounts, request_streaming: bool) -> Callable:
    handled = counts.handled

    @functools.wraps(handler)
    async def call(request: Any, caller: Any) -> AsyncIterator[Any]:
        counts.started += 1
        if request_streaming:
            request = _counted_requests(request, counts)
        else:
            counts.received += 1
        try:
            async for response in handler(request, caller):
                yield response
                counts.sent += 1
        except BaseException as exc:
            handled[status_of(exc)] += 1
            raise
        handled["OK"] += 1

    return call


class CountedHandlers:
    """A service's handlers with every call counted; anything else is the handlers' own."""

    def __init__(self, handlers: Any, service: ServiceDescriptor, counts: CallCounts) -> None:
        self.handlers = handlers
        self.call_counts = counts
        for method in service.methods:
            handler = getattr(handlers, method.name, None)
            if handler is None:
                continue
            method_counts = counts.of(service, method)
            if method.server_streaming:
                counted = _counted_stream(handler, method_counts, method.client_streaming)
            else:
                counted = _counted_unary(handler, method_counts)
            setattr(self, method.name, counted)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.handlers, name)


class Served(NamedTuple):
    handlers: Any
    descriptor: ServiceDescriptor


def etcd_services(node: Node) -> list[Served]:
    """etcd's own services (etcdserverpb, v3lockpb, v3electionpb), each with its handlers, their
    calls counted in :func:`call_counts` of ``node``."""
    services = rpc_pb2.DESCRIPTOR.services_by_name
    counts = call_counts(node)
    served = [
        (KVService(node), services["KV"]),
        (MaintenanceService(node), services["Maintenance"]),
        (ClusterService(node), services["Cluster"]),
        (LeaseService(node), services["Lease"]),
        (WatchService(node), services["Watch"]),
        (AuthService(node), services["Auth"]),
        (LockService(node), v3lock_pb2.DESCRIPTOR.services_by_name["Lock"]),
        (ElectionService(node), v3election_pb2.DESCRIPTOR.services_by_name["Election"]),
    ]
    return [Served(CountedHandlers(handlers, descriptor, counts), descriptor)
            for handlers, descriptor in served]


def admin_service(node: Node) -> Served:
    """etcdlite's own admin service (time control), gRPC only; not counted (etcd has none)."""
    return Served(AdminService(node, node.config.time_control),
                  etcdlite_admin_pb2.DESCRIPTOR.services_by_name["Admin"])
