"""The JSON gateway over TLS and with auth on (the token in ``Authorization``), against etcdlite,
etcd 3.4.23 and etcd 3.5.1: the same answers as over plain HTTP, the same refusals as gRPC."""

from __future__ import annotations

import json

import pytest

from etcd_targets import Target, start_target
from etcdlite.tls import make_test_certificates
from gateway_helpers import b64, error_body, post, status_for

TARGETS = ["etcdlite", "etcd-3.4", "etcd-3.5"]


@pytest.fixture(params=TARGETS)
def tls_server(request: pytest.FixtureRequest, tmp_path) -> Target:
    server = start_target(request.param, tmp_path, tls=make_test_certificates(tmp_path / "certs"))
    yield server
    server.close()


@pytest.fixture(params=TARGETS)
def auth_server(request: pytest.FixtureRequest, tmp_path) -> Target:
    server = start_target(request.param, tmp_path, bcrypt_cost=4, etcd_args=["--bcrypt-cost", "4"])
    yield server
    server.close()


def test_kv_watch_and_leases_over_https(tls_server):
    assert tls_server.url.startswith("https://")
    put = post(tls_server, "/v3/kv/put", {"key": b64("k"), "value": b64("v")})
    assert put.status == 200 and set(put.json()) == {"header"}
    got = post(tls_server, "/v3/kv/range", {"key": b64("k")}).json()
    assert [(kv["key"], kv["value"]) for kv in got["kvs"]] == [(b64("k"), b64("v"))]
    grant = post(tls_server, "/v3/lease/grant", {"TTL": 30}).json()
    alive = post(tls_server, "/v3/lease/keepalive", {"ID": grant["ID"]})
    assert alive.status == 200 and alive.results()[0]["result"]["TTL"] == "30"
    watch = post(tls_server, "/v3/watch", {"create_request": {"key": b64("k"), "start_revision": 1}},
                 max_lines=2, timeout=5)
    events = [line["result"].get("events") for line in watch.results()]
    assert events[0] is None and events[1][0]["kv"]["value"] == b64("v")


def _enable_auth(server: Target) -> None:
    for path, body in (("/v3/auth/user/add", {"name": "root", "password": "rootpw"}),
                       ("/v3/auth/user/grant", {"user": "root", "role": "root"}),
                       ("/v3/auth/role/add", {"name": "reader"}),
                       ("/v3/auth/role/grant", {"name": "reader", "perm": {
                           "permType": "READ", "key": b64("pub/"), "range_end": b64("pub0")}}),
                       ("/v3/auth/user/add", {"name": "alice", "password": "apw"}),
                       ("/v3/auth/user/grant", {"user": "alice", "role": "reader"}),
                       ("/v3/auth/enable", {})):
        answer = post(server, path, body)
        assert answer.status == 200, (path, answer)


def _token(server: Target, name: str, password: str) -> str:
    answer = post(server, "/v3/auth/authenticate", {"name": name, "password": password})
    assert answer.status == 200
    return answer.json()["token"]


def test_with_auth_on_the_authorization_header_carries_the_token(auth_server):
    version = auth_server.etcd_version
    _enable_auth(auth_server)
    root = {"Authorization": _token(auth_server, "root", "rootpw")}
    assert post(auth_server, "/v3/kv/put", {"key": b64("pub/a"), "value": b64("1")}, headers=root).status == 200
    alice = {"Authorization": _token(auth_server, "alice", "apw")}
    got = post(auth_server, "/v3/kv/range", {"key": b64("pub/a")}, headers=alice)
    assert got.status == 200 and got.json()["kvs"][0]["value"] == b64("1")

    denied = post(auth_server, "/v3/kv/put", {"key": b64("pub/a"), "value": b64("2")}, headers=alice)
    assert (denied.status, denied.body) == (status_for(7, version),
                                            error_body(7, "etcdserver: permission denied", version))
    no_token = post(auth_server, "/v3/kv/range", {"key": b64("pub/a")})
    assert (no_token.status, no_token.body) == (status_for(3, version),
                                                error_body(3, "etcdserver: user name is empty", version))
    bad = post(auth_server, "/v3/kv/range", {"key": b64("pub/a")}, headers={"Authorization": "nope"})
    assert (bad.status, bad.body) == (status_for(16, version),
                                      error_body(16, "etcdserver: invalid auth token", version))
    wrong = post(auth_server, "/v3/auth/authenticate", {"name": "alice", "password": "bad"})
    assert (wrong.status, json.loads(wrong.body)["message"]) == (
        status_for(3, version), "etcdserver: authentication failed, invalid user ID or password")
    status = post(auth_server, "/v3/auth/status", {}, headers=root)
    if version == "3.4":
        assert status.status == 404  # 3.4 has no AuthStatus
    else:
        assert status.status == 200 and status.json()["enabled"] is True


def test_a_watch_stream_with_auth_delivers_what_the_user_may_read(auth_server):
    _enable_auth(auth_server)
    root = {"Authorization": _token(auth_server, "root", "rootpw")}
    post(auth_server, "/v3/kv/put", {"key": b64("pub/w"), "value": b64("x")}, headers=root)
    alice = {"Authorization": _token(auth_server, "alice", "apw")}
    watch = post(auth_server, "/v3/watch", {"create_request": {
        "key": b64("pub/"), "range_end": b64("pub0"), "start_revision": 1}}, headers=alice,
        max_lines=2, timeout=5)
    results = [line["result"] for line in watch.results()]
    assert results[0]["created"] is True
    assert [e["kv"]["key"] for e in results[1]["events"]] == [b64("pub/w")]
