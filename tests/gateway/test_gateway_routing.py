"""Routing answers of the gateway, dual-target: 405 for other methods, 404 "Not Found" for unknown
/v3 paths, OPTIONS, /v3beta, the /v3 redirect, path decoding, the method-override fallback, and
the headers answers carry (observed identically on 3.4.23 and 3.5.1)."""

from __future__ import annotations

import pytest

from gateway_helpers import b64, error_body, post, request

CORS = [("access-control-allow-headers", "accept, content-type, authorization"),
        ("access-control-allow-methods", "POST, GET, OPTIONS, PUT, DELETE"),
        ("access-control-allow-origin", "*")]


def _has_cors(answer) -> bool:
    return all(answer.header(key) == value for key, value in CORS)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(target, method):
    answer = request(target, "/v3/kv/range", b"", method=method)
    assert (answer.status, answer.body) == (405, b"Method Not Allowed\n")
    assert answer.header("content-type") == "text/plain; charset=utf-8"
    assert answer.header("x-content-type-options") == "nosniff"
    assert _has_cors(answer)


@pytest.mark.parametrize("path", ["/v3/nothing", "/v3/", "/v3/kv/range/", "/v3/kv/range:x",
                                  "/v3/kv/:x", "/v3/kv/lease/keepalive", "/v3/maintenance/hashkv",
                                  "/v3beta/", "/v3/kv/range%3Ax"])
def test_unknown_v3_paths_are_404(target, path):
    answer = request(target, path, b"")
    assert (answer.status, answer.body) == (404, b"Not Found\n")
    assert answer.header("content-type") == "text/plain; charset=utf-8"
    assert _has_cors(answer)


@pytest.mark.parametrize("path", ["/v3alpha/kv/range", "/v3beta", "/V3/kv/range"])
def test_other_paths_are_go_404(target, path):
    answer = request(target, path, b"")
    assert (answer.status, answer.body) == (404, b"404 page not found\n")


@pytest.mark.parametrize("path", ["/v3beta/kv/range", "/v3/kv/%72ange", "/v3%2Fkv/range",
                                  "/v3/kv/range:", "/v3/kv/range?unused=1"])
def test_path_spellings_of_range(target, path):
    answer = request(target, path, b'{"key":"' + b64("k").encode() + b'"}')
    assert answer.status == 200, answer.body
    assert set(answer.json()) == {"header"}


def test_options_is_200_and_empty(target):
    for path in ("/v3/kv/range", "/v3/nothing"):
        answer = request(target, path, b"", method="OPTIONS")
        assert (answer.status, answer.body) == (200, b"")
        assert _has_cors(answer)


def test_v3_redirects_to_v3_slash(target):
    answer = request(target, "/v3", b"")
    assert (answer.status, answer.header("location"), answer.body) == (301, "/v3/", b"")


def test_method_override_of_a_form_post(target):
    """grpc-gateway's fallback: a form POST takes X-HTTP-Method-Override's method; its body is
    read as the form, so an overridden POST is the empty request."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    body = b'{"key":"' + b64("k").encode() + b'"}'
    answer = request(target, "/v3/kv/range", body, headers={**form, "X-HTTP-Method-Override": "GET"})
    assert (answer.status, answer.body) == (405, b"Method Not Allowed\n")
    answer = request(target, "/v3/kv/range", body, headers={**form, "X-HTTP-Method-Override": "POST"})
    assert (answer.status, answer.body) == \
        (400, error_body(3, "etcdserver: key is not provided", target.etcd_version))
    assert request(target, "/v3/kv/range", body, headers=form).status == 200


def test_answer_headers(target):
    ok = post(target, "/v3/kv/range", {"key": b64("k")})
    assert ok.header("content-type") == "application/json"
    assert ok.header("grpc-metadata-content-type") == "application/grpc"
    assert _has_cors(ok)
    refused = post(target, "/v3/kv/range", {"key": 1})
    assert refused.header("grpc-metadata-content-type") is None
    failed = post(target, "/v3/kv/range", {"key": b64("k"), "revision": 100})
    assert failed.status == 400
    assert failed.body == error_body(11, "etcdserver: mvcc: required revision is a future revision",
                                     target.etcd_version)
    if target.etcd_version != "3.4":  # 3.4.23 forwards the gRPC trailer, chunked
        assert failed.header("grpc-metadata-content-type") is None
        assert failed.header("content-length") == str(len(failed.body))


def test_error_statuses_per_code(target):
    """5 → 404, 9 → 400 (412 on 3.4.23), 2 → 500, 11 → 400."""
    cases = [("/v3/lease/revoke", {"ID": 1}, 404),
             ("/v3/auth/user/get", {"name": "x"}, 412 if target.etcd_version == "3.4" else 400),
             ("/v3/election/leader", {"name": b64("e")}, 500),
             ("/v3/kv/compaction", {"revision": 100}, 400)]
    for path, payload, status in cases:
        assert post(target, path, payload).status == status, path


def test_an_empty_authorization_header_is_an_invalid_token(target):
    """With auth disabled, 3.4.23 and 3.5.1 still check any token given."""
    for headers in ({"Authorization": ""}, {"Authorization": "junk"}, {"Grpc-Metadata-Token": "x"}):
        answer = post(target, "/v3/kv/range", {"key": b64("k")}, headers=headers)
        assert (answer.status, answer.body) == \
            (401, error_body(16, "etcdserver: invalid auth token", target.etcd_version)), headers
