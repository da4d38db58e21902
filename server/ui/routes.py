"""The browser view's HTTP side, under ``/ui/`` on the client URL: the page and its assets (inside
the package: nothing to build, works offline), the JSON endpoints it reads, and a server-sent event
stream of changes (an internal watch of the whole keyspace), so the page updates without reloading.

Read-only. With auth enabled every data endpoint wants a token (``POST /ui/api/login`` gets one
with a user's name and password; the page sends it as ``Authorization``, the event stream as
``?token=``) and shows only what that user may read."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from importlib import resources
from typing import AsyncIterator

from ..auth.caller import Caller
from ..errors import EtcdError
from ..http.message import HttpRequest, HttpResponse
from ..node import Node
from .views import CreationTimes, Views, text

_ASSETS = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
           "app.css": "text/css; charset=utf-8"}
_EVENT_QUEUE = 256
_KEEPALIVE_SECONDS = 15.0
_NO_CACHE = ("cache-control", "no-cache")


def _json(status: int, data) -> HttpResponse:
    return HttpResponse(status, [("content-type", "application/json"), _NO_CACHE],
                        json.dumps(data, separators=(",", ":")).encode())


def _asset(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


def _param_bytes(request: HttpRequest, name: str) -> bytes | None:
    values = request.query.get(name)
    if not values:
        return None
    try:
        return base64.b64decode(values[0], validate=True)
    except (binascii.Error, ValueError):
        raise _BadRequest(f"{name} is not base64") from None


class _BadRequest(Exception):
    pass


class Ui:
    """The ``/ui/`` paths of one node."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.created = CreationTimes()
        self._cancel_recorder = None

    def start(self) -> None:
        """Begin noting when recipe keys are created (for "waiting since"), again on every new
        state (a reset or restore)."""
        self._record()
        self.node.state_replaced.append(self._record)

    def _record(self) -> None:
        self.created.seen.clear()
        self._cancel_recorder = self.node.watch_internal(b"\0", b"\0", self.created.record)

    def stop(self) -> None:
        if self._record in self.node.state_replaced:
            self.node.state_replaced.remove(self._record)
        if self._cancel_recorder is not None:
            self._cancel_recorder()
            self._cancel_recorder = None

    def _caller(self, request: HttpRequest) -> Caller:
        token = request.header("authorization") or (request.query.get("token") or [None])[0]
        return Caller(token or None)

    def _check_viewer(self, caller: Caller) -> HttpResponse | None:
        if not self.node.auth.enabled:
            return None
        if caller.token is None:
            return _json(401, {"error": "login required", "auth_enabled": True})
        try:
            self.node.identify(caller)
        except EtcdError as exc:
            return _json(401, {"error": exc.message, "auth_enabled": True})
        return None

    async def handle(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if path == "/ui":
            return HttpResponse(301, [("location", "/ui/")], b"")
        name = path[len("/ui/"):] or "index.html"
        if name in _ASSETS:
            if request.method not in ("GET", "HEAD"):
                return _json(405, {"error": "method not allowed"})
            return HttpResponse(200, [("content-type", _ASSETS[name]), _NO_CACHE], _asset(name))
        if not name.startswith("api/"):
            return _json(404, {"error": "not found"})
        try:
            return await self._api(name[len("api/"):], request)
        except _BadRequest as exc:
            return _json(400, {"error": str(exc)})

    async def _api(self, name: str, request: HttpRequest) -> HttpResponse:
        if name == "login":
            return await self._login(request)
        if request.method != "GET":
            return _json(405, {"error": "method not allowed"})
        caller = self._caller(request)
        refused = self._check_viewer(caller)
        if refused is not None:
            return refused
        views = Views(self.node, self.created)
        if name == "status":
            return _json(200, views.status())
        if name == "keys":
            prefix = _param_bytes(request, "prefix") or b""
            limit = min(max(int((request.query.get("limit") or ["200"])[0] or 200), 1), 1000)
            return _json(200, views.keys(caller, prefix, _param_bytes(request, "after"), limit))
        if name == "key":
            key = _param_bytes(request, "key")
            if key is None:
                raise _BadRequest("key is required")
            found = views.key(caller, key)
            return _json(200, found) if found is not None else _json(403, {"error": "permission denied"})
        if name == "leases":
            return _json(200, views.leases(caller))
        if name == "locks":
            return _json(200, views.locks(caller))
        if name == "elections":
            return _json(200, views.elections(caller))
        if name == "watchers":
            return _json(200, views.watchers(caller))
        if name == "events":
            return self._events(caller, views)
        return _json(404, {"error": "not found"})

    async def _login(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return _json(405, {"error": "method not allowed"})
        try:
            body = json.loads(await request.body.read() or b"{}")
            name, password = str(body["name"]), str(body["password"])
        except (ValueError, KeyError, TypeError):
            raise _BadRequest("send {\"name\": ..., \"password\": ...}") from None
        try:
            token = await self.node.authenticate(name, password)
        except EtcdError as exc:
            return _json(401, {"error": exc.message})
        return _json(200, {"token": token})

    def _events(self, caller: Caller, views: Views) -> HttpResponse:
        queue: asyncio.Queue = asyncio.Queue(_EVENT_QUEUE)

        def on_change(revision: int, changes) -> None:
            keys = [text(c.key) for c in changes if views.may_read(caller, c.key)]
            try:
                queue.put_nowait({"revision": revision, "keys": keys[:50],
                                  "more": max(0, len(keys) - 50)})
            except asyncio.QueueFull:
                pass  # the page reloads everything on the next event anyway

        cancel = self.node.watch_internal(b"\0", b"\0", on_change)

        async def stream() -> AsyncIterator[bytes]:
            try:
                yield b"retry: 2000\n\n"
                while True:
                    try:
                        item = await asyncio.wait_for(queue.get(), _KEEPALIVE_SECONDS)
                    except asyncio.TimeoutError:
                        yield b": keep-alive\n\n"
                        continue
                    yield b"event: change\ndata: " + json.dumps(item).encode() + b"\n\n"
            finally:
                cancel()

        return HttpResponse(200, [("content-type", "text/event-stream"), _NO_CACHE], stream())
