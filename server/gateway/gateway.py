"""etcd's JSON gateway over the transport-neutral handlers: ``POST /v3/<service>/<method>`` with
the request as JSON, answered with the response as JSON (see :mod:`etcdlite.gateway.routes`,
:mod:`.decode`, :mod:`.encode`, :mod:`.streams`).

Routing is etcd 3.5.1's: ``/v3beta/`` is ``/v3/``; the path is matched percent-decoded; OPTIONS is
answered 200 before anything else; a known path with another method than POST is 405, an unknown
``/v3/`` path 404 "Not Found"; ``/v3`` redirects to ``/v3/``. A POST with an HTML form's content
type and ``X-HTTP-Method-Override`` takes the method given there and its body is read as the form
(grpc-gateway's path-length fallback), leaving an empty request.

Credentials: the gateway forwards header ``Authorization`` (and any ``Grpc-Metadata-Token``,
which etcd reads first) as the call's token; a TLS client certificate never names the caller.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote

from google.protobuf.message_factory import GetMessageClass

from ..api.services import Served
from ..api.status import METHOD_NOT_IMPLEMENTED
from ..auth.caller import Caller
from ..http.message import BodyTooLarge, HttpRequest, HttpResponse
from . import answers, messages
from .answers import GRPC_METADATA, JSON, error_response, status_of
from .decode import parse_request
from .encode import encode_message
from .gojson import GoJSONError, decode_first
from .routes import PATHS, api_path
from .streams import RequestStream, no_requests, stream_response

log = logging.getLogger("etcdlite.gateway")

_PREFIX = "/v3/"
_BETA = "/v3beta/"
_FORM = "application/x-www-form-urlencoded"
_INVALID_ARGUMENT = answers.GRPC_CODES["INVALID_ARGUMENT"]
_UNKNOWN = answers.GRPC_CODES["UNKNOWN"]
_UNIMPLEMENTED = answers.GRPC_CODES["UNIMPLEMENTED"]
_RESOURCE_EXHAUSTED = answers.GRPC_CODES["RESOURCE_EXHAUSTED"]
_DEFAULT_RECEIVE = 1536 * 1024 + 512 * 1024
_JSON_FACTOR = 4


class _Method:
    """One gateway path's method: its handler (None if not served) and message classes."""

    def __init__(self, handlers: Any, service: Any, name: str) -> None:
        descriptor = service.methods_by_name[name]
        self.name = name
        self.where = f"{service.full_name}/{name}"
        self.handler = getattr(handlers, name, None) if handlers is not None else None
        self.request_class = GetMessageClass(descriptor.input_type)
        self.request_streaming = descriptor.client_streaming
        self.response_streaming = descriptor.server_streaming


def caller_of(request: HttpRequest) -> Caller:
    """The call's credentials: the token grpc-gateway passes on as gRPC metadata."""
    token = request.header("grpc-metadata-token")
    if token is None:
        token = request.header("authorization")
    if token is None:
        token = request.header("grpc-metadata-authorization")
    return Caller(token=token)


class Gateway:
    """Serves ``/v3/`` and ``/v3beta/`` with the handlers of ``services``."""

    def __init__(self, services: list[Served], max_receive_bytes: int = _DEFAULT_RECEIVE) -> None:
        """``max_receive_bytes``: the largest request message, as etcd's gRPC server receives
        (--max-request-bytes plus 512 KiB); larger ones get grpc-go's ResourceExhausted."""
        self._max_receive = max_receive_bytes
        by_name = {descriptor.full_name: (handlers, descriptor) for handlers, descriptor in services}
        self._methods: dict[str, _Method] = {}
        for path, (service_name, method_name) in PATHS.items():
            if service_name in by_name:
                handlers, descriptor = by_name[service_name]
                self._methods[path] = _Method(handlers, descriptor, method_name)

    async def handle(self, request: HttpRequest) -> HttpResponse | None:
        """The answer to ``request``, or None if its path is not the gateway's."""
        path = unquote(request.path, errors="surrogateescape")
        if path.startswith(_BETA):
            path = _PREFIX + path[len(_BETA):]
        if path == _PREFIX[:-1]:
            query = f"?{request.query_string}" if request.query_string else ""
            return answers.redirect(_PREFIX + query, request.method)
        if not path.startswith(_PREFIX):
            return None
        if request.method == "OPTIONS":
            return answers.options()
        method_name = request.method
        form_body = False
        override = request.header("x-http-method-override")
        if method_name == "POST" and override and request.header("content-type") == _FORM:
            method_name = override.upper()
            form_body = True
        api = api_path(path)
        method = self._methods.get(api) if api is not None else None
        if method is None:
            return answers.not_found()
        if method_name != "POST":
            return answers.method_not_allowed()
        if form_body:
            await request.body.read()
            return await self._call(method, request, b"")
        return await self._call(method, request, None)

    async def _call(self, method: _Method, request: HttpRequest, body: bytes | None) -> HttpResponse:
        caller = caller_of(request)
        if method.request_streaming:
            return await self._bidirectional(method, request, caller, body)
        if body is None:
            try:  # JSON's base64 and syntax take at most a few times the message's size
                body = await request.body.read(_JSON_FACTOR * self._max_receive)
            except BodyTooLarge as exc:
                return self._too_large(exc.received)
        try:
            message = parse_request(decode_first(body), method.request_class)
        except GoJSONError as exc:
            return error_response(_INVALID_ARGUMENT, str(exc))
        size = message.ByteSize()
        if size > self._max_receive:
            return self._too_large(size)
        if method.handler is None:
            return error_response(_UNIMPLEMENTED, METHOD_NOT_IMPLEMENTED.format(method=method.name))
        if method.response_streaming:
            return await stream_response(method.handler(message, caller), True, method.where)
        try:
            response = await method.handler(message, caller)
        except Exception as exc:
            return self._failed(exc, method)
        return HttpResponse(200, [JSON, GRPC_METADATA], encode_message(response))

    async def _bidirectional(self, method: _Method, request: HttpRequest, caller: Caller,
                             body: bytes | None) -> HttpResponse:
        stream = RequestStream(request.body, method.request_class)
        if body is not None:
            first = None  # the body went to the form parser
        else:
            try:
                first = await stream.next()
            except GoJSONError as exc:
                return error_response(_UNKNOWN, str(exc))
        if method.handler is None:
            return error_response(_UNIMPLEMENTED, METHOD_NOT_IMPLEMENTED.format(method=method.name))
        requests = no_requests() if first is None else stream.rest(first)
        return await stream_response(method.handler(requests, caller), first is not None,
                                     method.where)

    def _too_large(self, size: int) -> HttpResponse:
        return error_response(_RESOURCE_EXHAUSTED,
                              messages.MESSAGE_TOO_LARGE.format(size=size, limit=self._max_receive))

    @staticmethod
    def _failed(exc: Exception, method: _Method) -> HttpResponse:
        code, message = status_of(exc)
        if code == _UNKNOWN and not isinstance(exc, answers.EtcdError):
            log.error("internal error in %s", method.where, exc_info=exc)
        return error_response(code, message)
