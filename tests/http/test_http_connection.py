"""The HTTP/1.1 server (etcdlite.http.connection) as Go's net/http behaves for the gateway's
clients: keep-alive and pipelining, chunked request bodies, streaming answers that start once the
request body has ended and stop when the client goes away, unparsable requests."""

from __future__ import annotations

import asyncio
import socket

import pytest

from etcdlite.http.connection import serve_streams
from etcdlite.http.message import HttpRequest, HttpResponse


async def _handler(request: HttpRequest) -> HttpResponse:
    if request.path == "/echo":
        return HttpResponse(200, [("content-type", "text/plain")], await request.body.read())
    if request.path == "/stream":
        async def chunks():
            async for chunk in request.body:  # answer every body chunk as it comes
                yield b"got " + chunk + b"\n"
            for i in range(3):
                yield b"tail %d\n" % i
        return HttpResponse(200, [], chunks())
    if request.path == "/forever":
        async def forever():
            try:
                while True:
                    yield b"tick\n"
                    await asyncio.sleep(0.01)
            finally:
                _Server.ended.set()
        return HttpResponse(200, [], forever())
    if request.path == "/boom":
        raise RuntimeError("a bug")
    return HttpResponse(404, [], b"nope")


class _Server:
    ended: asyncio.Event


async def _serve():
    server = await asyncio.start_server(
        lambda r, w: serve_streams(r, w, _handler, False), "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _exchange(port: int, data: bytes, until: bytes, close_after: bool = False) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    received = b""
    try:
        while until not in received:
            chunk = await asyncio.wait_for(reader.read(65536), 10)
            if not chunk:
                break
            received += chunk
    finally:
        writer.close()
    return received


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_pipelined_requests_are_answered_in_order_on_one_connection():
    async def go():
        server, port = await _serve()
        requests = b"".join(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n%02d" % i
                            for i in range(5))
        data = await _exchange(port, requests, b"\r\n\r\n04")
        server.close()
        return data
    data = run(go())
    assert data.count(b"HTTP/1.1 200 OK") == 5
    assert [data.index(b"\r\n\r\n%02d" % i) for i in range(5)] == \
        sorted(data.index(b"\r\n\r\n%02d" % i) for i in range(5))


def test_a_chunked_request_body_is_read_whole():
    async def go():
        server, port = await _serve()
        body = b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
        data = await _exchange(port, b"POST /echo HTTP/1.1\r\nHost: x\r\n"
                                     b"Transfer-Encoding: chunked\r\n\r\n" + body, b"abcdefg")
        server.close()
        return data
    data = run(go())
    assert b"Content-Length: 7" in data and data.endswith(b"abcdefg")


def test_a_streaming_answer_starts_once_the_request_body_has_ended_as_gos_does():
    async def go():
        server, port = await _serve()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5\r\nfirst\r\n")
        with pytest.raises(asyncio.TimeoutError):  # Go's server waits for the body first
            await asyncio.wait_for(reader.read(65536), 0.3)
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
        received = b""
        while b"tail 2" not in received:
            received += await asyncio.wait_for(reader.read(65536), 10)
        writer.close()
        server.close()
        return received
    data = run(go())
    assert b"Transfer-Encoding: chunked" in data
    assert data.index(b"got first") < data.index(b"got second") < data.index(b"tail 0")


def test_a_streaming_answer_ends_when_the_client_goes_away():
    async def go():
        _Server.ended = asyncio.Event()
        server, port = await _serve()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.wait_for(reader.readuntil(b"tick"), 10)
        writer.transport.abort()
        await asyncio.wait_for(_Server.ended.wait(), 10)
        server.close()
    run(go())


def test_an_unparsable_request_gets_gos_400_and_the_connection_closes():
    async def go():
        server, port = await _serve()
        data = await _exchange(port, b"GARBAGE\r\n\r\n", b"400 Bad Request")
        server.close()
        return data
    data = run(go())
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n") and b"Connection: close" in data


def test_a_failing_handler_answers_500_and_the_connection_serves_on():
    async def go():
        server, port = await _serve()
        data = await _exchange(port, b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n"
                                     b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok",
                               b"\r\n\r\nok")
        server.close()
        return data
    data = run(go())
    assert data.startswith(b"HTTP/1.1 500 Internal Server Error") and data.endswith(b"ok")


def test_connection_close_and_http_1_0_end_the_connection_after_the_answer():
    async def go():
        server, port = await _serve()
        answers = []
        for request in (b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                        b"Content-Length: 1\r\n\r\na",
                        b"POST /echo HTTP/1.0\r\nContent-Length: 1\r\n\r\nb"):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            answers.append(await asyncio.wait_for(reader.read(), 10))  # read() returns at close
            writer.close()
        server.close()
        return answers
    first, second = run(go())
    assert first.endswith(b"a") and second.endswith(b"b")
