"""What each HTTP path of etcd's serves: the mux of a client URL (JSON gateway, ``/version``,
``/health``, ``/metrics``, ``/livez``, ``/readyz``) and of a ``--listen-metrics-urls`` URL
(``/metrics`` and the health paths only)."""

from __future__ import annotations

from typing import Awaitable, Callable

from ..node import Node
from . import endpoints
from .message import HttpRequest, HttpResponse

#: etcd's client URL answers every request with these (its gateway mux wraps the whole mux)
CORS_HEADERS = [
    ("access-control-allow-origin", "*"),
    ("access-control-allow-methods", "POST, GET, OPTIONS, PUT, DELETE"),
    ("access-control-allow-headers", "accept, content-type, authorization"),
]

GatewayHandler = Callable[[HttpRequest], Awaitable["HttpResponse | None"]]


class HttpMux:
    """One HTTP handler for a node: a client URL's (``client``: ``/version``, the JSON gateway
    unless ``gateway`` is None, the browser view unless ``ui`` is None, with etcd's CORS headers)
    or a metrics URL's."""

    def __init__(self, node: Node, gateway: GatewayHandler | None, client: bool,
                 ui: GatewayHandler | None = None) -> None:
        self.node = node
        self.gateway = gateway
        self.client = client
        self.ui = ui

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        response = await self._route(request)
        if self.client:
            response.headers[:0] = CORS_HEADERS
        return response

    async def _route(self, request: HttpRequest) -> HttpResponse:
        path, node = request.path, self.node
        if path == "/metrics":
            return endpoints.metrics(request, node)
        if path == "/health":
            return endpoints.health(request, node)
        for kind in ("livez", "readyz"):
            if path == "/" + kind:
                return endpoints.probe(request, node, kind, None)
            if path.startswith(f"/{kind}/"):
                return endpoints.probe(request, node, kind, path[len(kind) + 2:])
        if not self.client:
            return endpoints.not_found()
        if path == "/version":
            return endpoints.version(request)
        if self.ui is not None and (path == "/ui" or path.startswith("/ui/")):
            return await self.ui(request)
        if self.gateway is not None:
            response = await self.gateway(request)
            if response is not None:
                return response
        return endpoints.not_found()
