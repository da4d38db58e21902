"""HTTP requests and responses as the HTTP handlers see them, independent of the HTTP/1.1
implementation that parses and writes them (:mod:`etcdlite.http.connection`).

A handler is ``async (HttpRequest) -> HttpResponse``. A response whose body is an async iterator is
sent chunked, each chunk flushed as it is produced; the request body can still be read while it is
being sent (etcd's gateway streams: a watch reads further requests from the body it answers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import AsyncIterator, Awaitable, Callable, Union
from urllib.parse import parse_qs


class BodyTooLarge(Exception):
    def __init__(self, received: int) -> None:
        super().__init__(f"request body over {received} bytes")
        self.received = received


class RequestBody:
    """The request body, as it arrives: iterate for chunks, or ``await read()`` for all of it."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks

    async def read(self, limit: int | None = None) -> bytes:
        """All of it; BodyTooLarge as soon as more than ``limit`` bytes came."""
        chunks, received = [], 0
        async for chunk in self._chunks:
            received += len(chunk)
            if limit is not None and received > limit:
                raise BodyTooLarge(received)
            chunks.append(chunk)
        return b"".join(chunks)


async def _no_chunks() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover  (makes this an async generator)


@dataclass
class HttpRequest:
    method: str
    #: the request target's path, undecoded ("/v3/kv/range")
    path: str
    #: the raw query string, without "?"
    query_string: str = ""
    #: header names lower-cased, in arrival order (repeated headers are repeated)
    headers: list[tuple[str, str]] = field(default_factory=list)
    #: "1.1" or "1.0"
    http_version: str = "1.1"
    #: whether it came over TLS
    secure: bool = False
    #: the common name of the client certificate TLS verified (None: none, or not verified)
    common_name: str | None = None
    body: RequestBody = field(default_factory=lambda: RequestBody(_no_chunks()))

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.query_string, keep_blank_values=True)


Body = Union[bytes, AsyncIterator[bytes]]


@dataclass
class HttpResponse:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    #: bytes (sent with Content-Length) or an async iterator of chunks (sent chunked, flushed
    #: per chunk; closed if the client goes away)
    body: Body = b""


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


def text(status: int, body: str, content_type: str = "text/plain; charset=utf-8",
         headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    return HttpResponse(status, [("content-type", content_type)] + (headers or []),
                        body.encode("utf-8"))
