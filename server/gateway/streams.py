"""The gateway's streams: request bodies that carry several JSON requests one after another, and
answers sent as ``{"result": …}`` lines, flushed one by one.

What grpc-gateway does, and so etcd: a bidirectional call (watch, keepalive) reads the first
request before it starts; one it cannot read is answered 500 with Go's error text (code 2). Every
later request goes to the server as it arrives; a malformed one ends the request side, as the body's
end does (a watch stays open, a keepalive ends). The answer's headers go out with its first line;
an error before any line sets the HTTP status of the error line instead."""

from __future__ import annotations

import logging
from typing import Any, AsyncIterator, Callable

from ..errors import EtcdError
from ..http.message import HttpResponse, RequestBody
from ..storage.group_commit import DurabilityError
from .answers import GRPC_METADATA, JSON, http_status, status_of, stream_error_line
from .decode import parse_request
from .encode import encode_chunk
from .gojson import GoJSONError, StreamDecoder

log = logging.getLogger("etcdlite.gateway")


class RequestStream:
    """The requests in a body, parsed as they arrive."""

    def __init__(self, body: RequestBody, message_class: Any) -> None:
        self._chunks = body.__aiter__()
        self._decoder = StreamDecoder()
        self._message_class = message_class

    async def next(self) -> Any | None:
        """The next request, None at the end of the body; GoJSONError for a malformed one."""
        while True:
            value = self._decoder.next()
            if value is not None:
                return parse_request(value, self._message_class)
            if self._decoder.finished:
                return None
            try:
                chunk = await self._chunks.__anext__()
            except StopAsyncIteration:
                self._decoder.finish()
                continue
            self._decoder.feed(chunk)

    async def rest(self, first: Any) -> AsyncIterator[Any]:
        """``first``, then every further request up to the end of the body or a malformed one."""
        yield first
        while True:
            try:
                request = await self.next()
            except GoJSONError:
                return
            if request is None:
                return
            yield request


async def _nothing() -> AsyncIterator[Any]:
    return
    yield  # pragma: no cover  (makes this an async generator)


def no_requests() -> AsyncIterator[Any]:
    return _nothing()


async def _lines(*lines: bytes) -> AsyncIterator[bytes]:
    for line in lines:
        yield line


def _log_unexpected(exc: BaseException, where: str) -> None:
    if not isinstance(exc, (EtcdError, DurabilityError)):
        log.error("internal error in %s", where, exc_info=exc)


async def stream_response(responses: AsyncIterator[Any], metadata: bool,
                          where: str) -> HttpResponse:
    """The answer to a streaming call once its first message (or its end) is known. ``metadata``:
    whether the gateway had the server's response headers (not for a bidirectional call whose
    body was empty)."""
    try:
        first = await responses.__anext__()
    except StopAsyncIteration:
        return HttpResponse(200, [JSON], _lines())
    except BaseException as exc:
        await _close(responses)
        if not isinstance(exc, Exception):
            raise
        _log_unexpected(exc, where)
        code, message = status_of(exc)
        return HttpResponse(http_status(code), [JSON],
                            _lines(stream_error_line(code, message)))
    headers = [JSON] + ([GRPC_METADATA] if metadata else [])
    return HttpResponse(200, headers, _forward(first, responses, where))


async def _forward(first: Any, responses: AsyncIterator[Any], where: str) -> AsyncIterator[bytes]:
    try:
        yield encode_chunk(first)
        while True:
            try:
                response = await responses.__anext__()
            except StopAsyncIteration:
                return
            except Exception as exc:
                _log_unexpected(exc, where)
                yield stream_error_line(*status_of(exc))
                return
            yield encode_chunk(response)
    finally:
        await _close(responses)


async def _close(responses: AsyncIterator[Any]) -> None:
    close: Callable | None = getattr(responses, "aclose", None)
    if close is not None:
        try:
            await close()
        except Exception:
            log.exception("closing a stream failed")
