"""One HTTP/1.1 connection, served with h11 on the server's event loop.

Theory of operation. A connection has two tasks:

* the *receiver* owns the reading side. It feeds bytes to h11 and routes what h11 makes of them:
  a request head to the request queue, body chunks to the body queue of the request in progress
  (a bounded queue: a handler that does not read stops the reading, so memory per connection is
  bounded), the end of the body as ``None``. When h11 pauses (a request is complete and its answer
  not yet sent) the receiver waits for the next cycle. End of input, a protocol error or a reset
  sets ``gone``;
* the *responder* (``run``) takes one request at a time, calls the handler and writes its answer.
  A streaming answer is written chunk by chunk, each flushed; it is abandoned when ``gone`` is
  set, as Go's server cancels a request whose client went away. After the answer the rest of an
  unread body is drained (up to a limit, else the connection closes), then h11 starts the next
  cycle (keep-alive) unless either side asked to close.

The handler may read the request body while its streaming answer is being written (a gateway watch
reads more requests from the body it answers).
"""

from __future__ import annotations

import asyncio
import logging
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import AsyncIterator

import h11

from .message import Handler, HttpRequest, HttpResponse, RequestBody

log = logging.getLogger("etcdlite.http")

_READ_SIZE = 64 * 1024
_BODY_QUEUE_CHUNKS = 16
#: an unread body this long is drained before the next request; a longer one closes the connection
_DRAIN_LIMIT = 4 * 1024 * 1024
#: etcd's client HTTP server reads a request within 5 minutes (``ReadTimeout``); an idle
#: keep-alive connection is closed after the same time
IDLE_TIMEOUT = 300.0
_MAX_HEAD_BYTES = 1024 * 1024  # Go's DefaultMaxHeaderBytes
_GO_BODY_WAIT = 256 * 1024  # net/http's maxPostHandlerReadBytes


class _Gone(Exception):
    pass


def _verified_common_name(writer: asyncio.StreamWriter) -> str | None:
    """The CN of the client certificate TLS verified (``getpeercert`` is empty unless it was)."""
    certificate = writer.get_extra_info("peercert") or {}
    for rdn in certificate.get("subject", ()):
        for name, value in rdn:
            if name == "commonName":
                return value
    return None


def _canonical(name: str) -> bytes:
    """Go's canonical header name (``content-type`` → ``Content-Type``)."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-")).encode("latin-1")


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


def _date() -> bytes:
    return formatdate(time.time(), usegmt=True).encode("ascii")


class HttpConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 handler: Handler, secure: bool) -> None:
        self._reader = reader
        self._writer = writer
        self._handler = handler
        self._secure = secure
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD_BYTES)
        self._requests: asyncio.Queue[h11.Request | None] = asyncio.Queue()
        self._body: asyncio.Queue[bytes | None] | None = None
        #: set when the request in progress has sent its whole body (or 256 KiB of it)
        self._body_read = asyncio.Event()
        self._body_bytes = 0
        self._next_cycle = asyncio.Event()
        self.gone = asyncio.Event()
        self._bad_request: str | None = None
        self._common_name = _verified_common_name(writer) if secure else None

    # -- reading ----------------------------------------------------------------------------

    async def _receive(self) -> None:
        try:
            while True:
                event = self._h11.next_event()
                if event is h11.NEED_DATA:
                    data = await self._reader.read(_READ_SIZE)
                    self._h11.receive_data(data)
                    if not data:
                        self.gone.set()
                elif event is h11.PAUSED:
                    self._next_cycle.clear()
                    await self._next_cycle.wait()
                elif isinstance(event, h11.Request):
                    self._body = asyncio.Queue(_BODY_QUEUE_CHUNKS)
                    self._body_read.clear()
                    self._body_bytes = 0
                    self._requests.put_nowait(event)
                elif isinstance(event, h11.Data):
                    self._body_bytes += len(event.data)
                    if self._body_bytes >= _GO_BODY_WAIT:
                        self._body_read.set()
                    if self._body is not None:
                        await self._body.put(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    self._body_read.set()
                    if self._body is not None:
                        await self._body.put(None)
                elif isinstance(event, h11.ConnectionClosed):
                    break
        except h11.RemoteProtocolError as exc:
            self._bad_request = str(exc)
        except (ConnectionError, OSError):
            pass
        finally:
            self.gone.set()
            self._requests.put_nowait(None)
            if self._body is not None and self._body.empty():
                self._body.put_nowait(None)

    async def _body_chunks(self, queue: asyncio.Queue) -> AsyncIterator[bytes]:
        while True:
            if self.gone.is_set() and queue.empty():
                return
            chunk = await queue.get()
            if chunk is None:
                queue.put_nowait(None)  # later readers see the end too
                return
            yield chunk

    # -- writing ----------------------------------------------------------------------------

    async def _write(self, event: h11.Event) -> None:
        data = self._h11.send(event)
        if data:
            self._writer.write(data)
            await self._writer.drain()

    def _head(self, response: HttpResponse, length: int | None) -> h11.Response:
        headers = [(_canonical(name), value.encode("latin-1")) for name, value in response.headers]
        names = {name.lower() for name, _ in response.headers}
        if "date" not in names:
            headers.append((b"Date", _date()))
        if length is not None and "content-length" not in names:
            headers.append((b"Content-Length", str(length).encode("ascii")))
        return h11.Response(status_code=response.status, headers=headers,
                            reason=_reason(response.status))

    async def _send(self, request: HttpRequest, response: HttpResponse) -> None:
        body = response.body
        head_only = request.method == "HEAD"
        if isinstance(body, (bytes, bytearray)):
            data = self._h11.send(self._head(response, len(body)))
            if body and not head_only:
                data += self._h11.send(h11.Data(data=body))
            self._writer.write(data + self._h11.send(h11.EndOfMessage()))
            await self._writer.drain()
            return
        await self._wait_for_the_body()
        await self._write(self._head(response, None))
        try:
            if not head_only:
                await self._stream(body)
        finally:
            await body.aclose()
        await self._write(h11.EndOfMessage())

    async def _wait_for_the_body(self) -> None:
        """Go's HTTP/1 server reads (up to 256 KiB of) the rest of the request body before a
        handler's first write goes out, so etcd answers a stream only once its request body has
        ended: do the same (while the handler, not reading, would hold the body back, go on)."""
        while not self._body_read.is_set() and not self.gone.is_set():
            if self._body is not None and self._body.full():
                return
            waiter = asyncio.ensure_future(self._body_read.wait())
            gone = asyncio.ensure_future(self.gone.wait())
            try:
                await asyncio.wait((waiter, gone), timeout=0.05, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                gone.cancel()

    async def _stream(self, body: AsyncIterator[bytes]) -> None:
        gone = asyncio.ensure_future(self.gone.wait())
        chunk = None
        try:
            while True:
                chunk = asyncio.ensure_future(body.__anext__())
                await asyncio.wait((chunk, gone), return_when=asyncio.FIRST_COMPLETED)
                if not chunk.done():
                    raise _Gone()
                try:
                    data = chunk.result()
                except StopAsyncIteration:
                    return
                if data:
                    await self._write(h11.Data(data=data))
        finally:
            gone.cancel()
            if chunk is not None and not chunk.done():  # the client left, or the server stops
                chunk.cancel()
                await asyncio.gather(chunk, return_exceptions=True)

    # -- the request cycle ------------------------------------------------------------------

    async def run(self) -> None:
        receiver = asyncio.ensure_future(self._receive())
        try:
            while True:
                try:
                    head = await asyncio.wait_for(self._requests.get(), IDLE_TIMEOUT)
                except asyncio.TimeoutError:
                    return
                if head is None:
                    await self._answer_bad_request()
                    return
                if not await self._serve(head):
                    return
                if self._h11.our_state is not h11.DONE or self._h11.their_state is not h11.DONE:
                    return
                self._h11.start_next_cycle()
                self._next_cycle.set()
        except (_Gone, ConnectionError, OSError, h11.LocalProtocolError):
            pass
        finally:
            receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)
            self._writer.close()

    async def _serve(self, head: h11.Request) -> bool:
        target = head.target.decode("latin-1")
        path, _, query = target.partition("?")
        body_queue = self._body
        request = HttpRequest(
            method=head.method.decode("ascii"), path=path, query_string=query,
            headers=[(name.decode("latin-1"), value.decode("latin-1"))
                     for name, value in head.headers],
            http_version=head.http_version.decode("ascii"), secure=self._secure,
            common_name=self._common_name,
            body=RequestBody(self._body_chunks(body_queue)))
        try:
            response = await self._handler(request)
        except Exception:
            log.exception("HTTP handler failed for %s %s", request.method, path)
            response = HttpResponse(500, [("content-type", "text/plain; charset=utf-8")],
                                    b"Internal Server Error\n")
        await self._send(request, response)
        return await self._drain(body_queue)

    async def _drain(self, queue: asyncio.Queue) -> bool:
        """Read what is left of the request body (the next request follows it)."""
        left = _DRAIN_LIMIT
        while self._h11.their_state is h11.SEND_BODY:
            if self.gone.is_set() and queue.empty():
                return False
            chunk = await queue.get()
            if chunk is None:
                queue.put_nowait(None)
                break
            left -= len(chunk)
            if left < 0:
                return False
        return True

    async def _answer_bad_request(self) -> None:
        """Go's answer to a request it cannot parse: 400 and close."""
        if self._bad_request is None or self._h11.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        body = b"400 Bad Request"
        self._writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                           b"Connection: close\r\n\r\n" + body)
        try:
            await self._writer.drain()
        except (ConnectionError, OSError):
            pass


async def serve_streams(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        handler: Handler, secure: bool) -> None:
    await HttpConnection(reader, writer, handler, secure).run()
