"""Plain HTTP/1.1 calls to a target's client URL (or any URL), as curl would make them."""

from __future__ import annotations

import http.client
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from etcd_targets import Target


@dataclass
class Answer:
    status: int
    #: header names lower-cased
    headers: dict[str, str]
    body: bytes


def tls_context(target: Target, client_cert: bool = True) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=target.ca_file)
    if client_cert and target.tls is not None:
        context.load_cert_chain(str(target.tls.client_cert), str(target.tls.client_key))
    return context


def connection(url: str, context: ssl.SSLContext | None = None,
               timeout: float = 10) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout,
                                           context=context)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)


def call(url: str, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None, context: ssl.SSLContext | None = None,
         conn: http.client.HTTPConnection | None = None) -> Answer:
    own = conn is None
    conn = conn or connection(url, context)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        if own:
            conn.close()


def get(target: Target, path: str, **options) -> Answer:
    if target.secure and "context" not in options:
        options["context"] = tls_context(target)
    return call(target.url, "GET", path, **options)


def enable_auth(target: Target, password: str = "rootpw") -> None:
    """User root with role root, then auth on (over gRPC: the target's own channel)."""
    from etcdlite.proto import rpc_pb2, rpc_pb2_grpc

    auth = rpc_pb2_grpc.AuthStub(target.channel)
    auth.UserAdd(rpc_pb2.AuthUserAddRequest(name="root", password=password))
    auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user="root", role="root"))
    auth.AuthEnable(rpc_pb2.AuthEnableRequest())
