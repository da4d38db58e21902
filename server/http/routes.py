"""What each HTTP path of etcd's serves: the mux of a client URL (JSON gateway, ``/version``,
``/health``, ``/metrics``, ``/livez``, ``/readyz``) and of a ``--listen-metrics-urls`` URL
(``/metrics`` and the health paths only)."""

from __future__ import annotations

from typing import Awaitable, Callable

from .. import etcd_messages as msg
from ..node import Node
from . import endpoints
from .message import HttpRequest, HttpResponse, text

#: etcd's client URL answers every request with these (its gateway mux wraps the whole mux)
CORS_HEADERS = [
    ("access-control-allow-origin", "*"),
    ("access-control-allow-methods", "POST, GET, OPTIONS, PUT, DELETE"),
    ("access-control-allow-headers", "accept, content-type, authorization"),
]

GatewayHandler = Callable[[HttpRequest], Awaitable["HttpResponse | None"]]


def clean_path(path: str) -> str:
    """Go's ServeMux path cleaning: one slash each, no ``.`` or ``..`` (rooted), a trailing
    slash kept."""
    if not path:
        return "/"
    if not path.startswith("/"):
        path = "/" + path
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    cleaned = "/" + "/".join(parts)
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


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
        """etcd's access controller (embed/serve.go) in front of Go's ServeMux: the gateway's
        client-certificate refusal, the CORS headers, OPTIONS answered for every path, then
        ServeMux's redirect of unclean paths and the routes."""
        if self.client:
            if self._refuses_common_name(request):
                return text(400, msg.GATEWAY_COMMON_NAME, headers=[("x-content-type-options", "nosniff")])
            if request.method == "OPTIONS":
                response = HttpResponse(200, [], b"")
            else:
                response = await self._clean_or_route(request)
            response.headers[:0] = CORS_HEADERS
            return response
        return await self._clean_or_route(request)

    def _refuses_common_name(self, request: HttpRequest) -> bool:
        config = self.node.config
        return bool(request.secure and request.common_name and config.client_cert_auth
                    and config.enable_grpc_gateway and self.node.auth.enabled
                    and request.path.startswith("/v3/"))

    async def _clean_or_route(self, request: HttpRequest) -> HttpResponse:
        cleaned = clean_path(request.path)
        if cleaned != request.path:
            location = cleaned + ("?" + request.query_string if request.query_string else "")
            body = msg.HTTP_MOVED.format(location=location) if request.method in ("GET", "HEAD") else ""
            return text(301, body, "text/html; charset=utf-8", headers=[("location", location)])
        return await self._route(request)

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
