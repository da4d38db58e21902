"""Shared helpers for the gateway tests (not a test module): a small HTTP/1.1 client that shows
exactly what a server sent (status, headers, raw body, stream lines) and can keep a request body
open, and the normalisation of values that differ between servers (IDs, revisions, sizes, times).
"""

from __future__ import annotations

import base64
import json
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from etcd_targets import Target

#: how long any read waits for the server before the test gives up on more data
READ_TIMEOUT = 15.0
#: the largest answer a test reads
MAX_BODY = 64 * 1024 * 1024


@dataclass
class Answer:
    status: int
    #: header names lower-cased, in order
    headers: list[tuple[str, str]]
    body: bytes
    #: whether the body ended (a stream may still be open when the test stops reading)
    complete: bool = True
    lines: list[bytes] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def json(self):
        return json.loads(self.body)

    def results(self) -> list[dict]:
        return [json.loads(line) for line in self.lines]


def _connect(target: Target, timeout: float) -> socket.socket:
    host, port = target.endpoint.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    if target.secure:
        context = ssl.create_default_context(cafile=target.ca_file)
        context.check_hostname = False
        if target.tls is not None:
            context.load_cert_chain(str(target.tls.client_cert), str(target.tls.client_key))
        sock = context.wrap_socket(sock, server_hostname=host)
    return sock


class _Reader:
    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.buffer = b""
        self.deadline = deadline

    def _more(self) -> bool:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return False
        if not data:
            return False
        self.buffer += data
        if len(self.buffer) > MAX_BODY:
            raise AssertionError("answer too large")
        return True

    def line(self) -> bytes | None:
        while b"\r\n" not in self.buffer:
            if not self._more():
                return None
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def exactly(self, count: int) -> bytes | None:
        while len(self.buffer) < count:
            if not self._more():
                return None
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data


def request(target: Target, path: str, body: bytes | list[bytes] = b"", method: str = "POST",
            headers: dict[str, str] | None = None, keep_open: bool = False,
            max_lines: int | None = None, timeout: float = READ_TIMEOUT) -> Answer:
    """Send one request and read the answer. ``body`` as a list is sent chunked, one chunk per
    item; ``keep_open`` leaves a chunked body unfinished (a watch that goes on). Reading stops at
    the end of the answer, after ``max_lines`` stream lines, or after ``timeout`` seconds."""
    host = target.endpoint
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    for key, value in (headers or {}).items():
        lines.append(f"{key}: {value}")
    chunked = isinstance(body, list)
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    elif body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    sock = _connect(target, timeout)
    try:
        if chunked:
            payload = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in body if part)
            if not keep_open:
                payload += b"0\r\n\r\n"
            sock.sendall(head + payload)
        else:
            sock.sendall(head + body)
        try:
            return _read_answer(_Reader(sock, time.monotonic() + timeout), method, max_lines)
        except AssertionError as exc:
            if str(exc) == "no answer":
                raise AssertionError("no answer") from AssertionError(f"{method} {path}")
            raise
    finally:
        sock.close()


def _read_answer(reader: _Reader, method: str, max_lines: int | None) -> Answer:
    status_line = reader.line()
    if status_line is None:
        raise AssertionError("no answer")
    status = int(status_line.split(b" ")[1])
    headers = []
    while True:
        line = reader.line()
        if line is None:
            raise AssertionError("cut-off headers")
        if not line:
            break
        key, _, value = line.decode("latin-1").partition(":")
        headers.append((key.strip().lower(), value.strip()))
    answer = Answer(status, headers, b"")
    if method == "HEAD" or status in (204, 304):
        return answer
    length = answer.header("content-length")
    if answer.header("transfer-encoding") == "chunked":
        _read_chunks(reader, answer, max_lines)
    elif length is not None:
        data = reader.exactly(int(length))
        answer.complete = data is not None
        answer.body = data or b""
    answer.lines = [line for line in answer.body.split(b"\n") if line]
    return answer


def _read_chunks(reader: _Reader, answer: Answer, max_lines: int | None) -> None:
    while True:
        if max_lines is not None and answer.body.count(b"\n") >= max_lines:
            answer.complete = False
            return
        size_line = reader.line()
        if size_line is None:
            answer.complete = False
            return
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            reader.line()
            return
        data = reader.exactly(size)
        if data is None or reader.line() is None:
            answer.complete = False
            return
        answer.body += data


def post(target: Target, path: str, payload: object = None, **options) -> Answer:
    """POST ``payload`` as JSON (None: an empty body)."""
    body = b"" if payload is None else json.dumps(payload).encode()
    return request(target, path, body, **options)


def b64(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


#: fields whose values differ between servers for the same history
VARIABLE = {"cluster_id", "member_id", "revision", "raft_term", "ID", "id", "TTL", "grantedTTL",
            "dbSize", "dbSizeInUse", "raftIndex", "raftAppliedIndex", "leader", "raftTerm",
            "hash", "version", "token", "clientURLs", "create_revision", "mod_revision", "rev",
            "lease", "authRevision", "compact_revision", "hash_revision", "memberID", "blob",
            "remaining_bytes"}
_LOCK_KEY = re.compile(rb"/[0-9a-f]+$")


def normalized(value, keys: frozenset[str] | set[str] = frozenset(VARIABLE)):
    """``value`` with the variable fields replaced by "<v>" (their presence still counts)."""
    if isinstance(value, dict):
        return {key: "<v>" if key in keys else normalized(item, keys) for key, item in value.items()}
    if isinstance(value, list):
        return [normalized(item, keys) for item in value]
    return value


def error_body(code: int, message: str, version: str | None) -> bytes:
    """The error body a server gives: 3.4.23's field order differs from 3.5.1's (and etcdlite's)."""
    if version == "3.4":
        fields = {"error": message, "message": message, "code": code}
    else:
        fields = {"error": message, "code": code, "message": message}
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()


def status_for(code: int, version: str | None) -> int:
    """The HTTP status of a gRPC code: FailedPrecondition is 412 on 3.4.23, 400 on 3.5.1."""
    if code == 9:
        return 412 if version == "3.4" else 400
    return {2: 500, 3: 400, 5: 404, 7: 403, 8: 429, 11: 400, 12: 501, 14: 503, 16: 401}[code]
