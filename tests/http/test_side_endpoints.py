"""HTTP beside gRPC on the client URL: /version, /health, Go's answers to other paths and methods,
the CORS headers, keep-alive, --listen-metrics-urls, and the gRPC health service — against
etcdlite, etcd 3.4.23 and etcd 3.5.1 (where they differ, etcdlite answers as 3.5.1)."""

from __future__ import annotations

import http.client
import json

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from etcd_targets import Target, free_port, start_target
from etcdlite.proto import rpc_pb2
from http_helpers import call, connection, get

TARGETS = ["etcdlite", "etcd-3.4", "etcd-3.5"]
NOSPACE = rpc_pb2.AlarmType.Value("NOSPACE")
CORS = {"access-control-allow-origin": "*",
        "access-control-allow-methods": "POST, GET, OPTIONS, PUT, DELETE",
        "access-control-allow-headers": "accept, content-type, authorization"}


@pytest.fixture(params=TARGETS)
def server(request: pytest.FixtureRequest) -> Target:
    target = start_target(request.param)
    yield target
    target.close()


def _as_35(target: Target) -> bool:
    return target.etcd_version != "3.4"


def _alarm(target: Target, action: str) -> None:
    member = target.maintenance.Status(rpc_pb2.StatusRequest()).header.member_id
    target.maintenance.Alarm(rpc_pb2.AlarmRequest(
        action=rpc_pb2.AlarmRequest.AlarmAction.Value(action), memberID=member, alarm=NOSPACE))


def test_version_names_the_server_and_the_cluster_version(server):
    answer = get(server, "/version")
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    version = json.loads(answer.body)
    assert set(version) == {"etcdserver", "etcdcluster"}
    expected = server.etcd_version or "3.5"
    assert version["etcdserver"].startswith(expected + ".")
    assert version["etcdcluster"] == expected + ".0"
    if server.etcd_version is None:
        assert version == {"etcdserver": "3.5.0", "etcdcluster": "3.5.0"}  # Status says 3.5.0 too


def test_health_is_true_with_the_body_of_the_version(server):
    expected = b'{"health":"true","reason":""}' if _as_35(server) else b'{"health":"true"}'
    for path in ("/health", "/health?serializable=true", "/health?exclude=NOSPACE"):
        answer = get(server, path)
        assert (answer.status, answer.body) == (200, expected), path
        assert answer.headers["content-type"] == "text/plain; charset=utf-8"


def test_health_is_503_under_a_nospace_alarm_unless_it_is_excluded(server):
    _alarm(server, "ACTIVATE")
    unhealthy = b'{"health":"false","reason":"ALARM NOSPACE"}\n' if _as_35(server) \
        else b'{"health":"false"}\n'
    for path in ("/health", "/health?serializable=true", "/health?exclude=CORRUPT"):
        answer = get(server, path)
        assert (answer.status, answer.body) == (503, unhealthy), path
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert get(server, "/health?exclude=NOSPACE").status == 200
    _alarm(server, "DEACTIVATE")
    assert get(server, "/health").status == 200


def test_version_and_health_answer_other_methods_with_405(server):
    for method, path in (("POST", "/version"), ("PUT", "/health"), ("DELETE", "/version"),
                         ("POST", "/health")):
        answer = call(server.url, method, path)
        assert (answer.status, answer.body) == (405, b"Method Not Allowed\n"), (method, path)
        assert answer.headers["allow"] == "GET"
        assert answer.headers["x-content-type-options"] == "nosniff"
    head = call(server.url, "HEAD", "/health")
    assert (head.status, head.body) == (405, b"")


def test_other_paths_answer_gos_404(server):
    for path in ("/", "/nope", "/health/", "/version/", "/versionx", "/metricsx", "/debug/vars2"):
        answer = get(server, path)
        assert (answer.status, answer.body) == (404, b"404 page not found\n"), path
        assert answer.headers["content-type"] == "text/plain; charset=utf-8"


def test_every_answer_on_the_client_url_carries_etcds_cors_headers(server):
    for method, path in (("GET", "/version"), ("GET", "/health"), ("GET", "/nope"),
                         ("POST", "/version")):
        headers = call(server.url, method, path).headers
        assert {name: headers.get(name) for name in CORS} == CORS, (method, path)


def test_one_connection_serves_many_requests_and_http_1_0_works(server):
    conn = connection(server.url)
    try:
        for _ in range(20):
            assert call(server.url, "GET", "/health", conn=conn).status == 200
        assert call(server.url, "GET", "/version", headers={"Connection": "close"},
                    conn=conn).status == 200
    finally:
        conn.close()
    conn = connection(server.url)
    conn._http_vsn, conn._http_vsn_str = 10, "HTTP/1.0"
    try:
        answer = call(server.url, "GET", "/version", conn=conn)
        assert answer.status == 200 and json.loads(answer.body)["etcdserver"]
    finally:
        conn.close()


def test_grpc_and_http_share_the_client_url(server):
    server.kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v"))
    assert get(server, "/health").status == 200
    assert server.kv.Range(rpc_pb2.RangeRequest(key=b"k")).kvs[0].value == b"v"


def test_the_grpc_health_service_answers_serving_for_the_server(server):
    stub = health_pb2_grpc.HealthStub(server.channel)
    assert stub.Check(health_pb2.HealthCheckRequest()).status == \
        health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as error:
        stub.Check(health_pb2.HealthCheckRequest(service="etcdserverpb.KV"))
    assert (error.value.code(), error.value.details()) == (grpc.StatusCode.NOT_FOUND, "unknown service")
    watch = stub.Watch(health_pb2.HealthCheckRequest(), timeout=5)
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    watch.cancel()


@pytest.mark.parametrize("name", TARGETS)
def test_a_metrics_url_serves_metrics_and_health_without_the_gateway(name):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_target(name, listen_metrics_urls=[url],
                          etcd_args=["--listen-metrics-urls", url])
    try:
        health = call(url, "GET", "/health")
        assert health.status == 200 and json.loads(health.body)["health"] == "true"
        assert "access-control-allow-origin" not in health.headers
        for path in ("/version", "/v3/kv/range", "/nope"):
            assert call(url, "GET", path).body == b"404 page not found\n", path
        metrics = call(url, "GET", "/metrics")
        assert metrics.status == 200
        assert metrics.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        families = {f.name: f for f in text_string_to_metric_families(metrics.body.decode())}
        assert [s.value for s in families["etcd_server_has_leader"].samples] == [1]
    finally:
        server.close()


def test_listen_client_http_urls_take_http_off_the_client_urls():
    """etcd 3.5.1 has no --listen-client-http-urls (later releases add it): this asserts what
    those releases document — HTTP on the given URLs, gRPC alone on the client URLs."""
    from etcdlite import EtcdLite

    server = EtcdLite(listen_client_http_urls=["http://127.0.0.1:0"]).start()
    try:
        (http_url,) = server.http_urls
        assert call(http_url, "GET", "/health").status == 200
        assert call(http_url, "GET", "/version").status == 200
        with pytest.raises((OSError, http.client.HTTPException)):  # grpc core drops HTTP/1.1
            call(server.url, "GET", "/health")
        with grpc.insecure_channel(server.endpoint) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            assert stub.Check(health_pb2.HealthCheckRequest(), timeout=10).status == \
                health_pb2.HealthCheckResponse.SERVING
    finally:
        server.stop()


@pytest.mark.parametrize("name", TARGETS)
def test_https_serves_health_and_metrics_and_client_cert_auth_needs_a_certificate(name, tmp_path):
    import ssl

    from etcdlite.tls import make_test_certificates
    from http_helpers import tls_context

    server = start_target(name, tmp_path, tls=make_test_certificates(tmp_path / "certs"),
                          client_cert_auth=True)
    try:
        assert server.url.startswith("https://")
        health = get(server, "/health")
        assert health.status == 200 and json.loads(health.body)["health"] == "true"
        assert get(server, "/metrics").status == 200
        with pytest.raises((ssl.SSLError, OSError)):
            get(server, "/health", context=tls_context(server, client_cert=False))
        assert server.kv.Range(rpc_pb2.RangeRequest(key=b"k")).count == 0  # gRPC beside it
    finally:
        server.close()


def test_options_is_answered_200_for_every_path_with_the_cors_headers(server):
    for path in ("/health", "/nope", "/version", "/v3/kv/range", "/metrics"):
        answer = call(server.url, "OPTIONS", path)
        assert (answer.status, answer.body) == (200, b""), path
        assert {name: answer.headers.get(name) for name in CORS} == CORS


def test_unclean_paths_are_redirected_to_the_clean_one_as_gos_servemux_does(server):
    for path, clean in (("//health", "/health"), ("/a/../version", "/version"),
                        ("/./health", "/health"), ("/x/..//v3/", "/v3/")):
        answer = call(server.url, "GET", path)
        assert answer.status == 301, path
        assert answer.headers["location"] == clean
        assert answer.body == f'<a href="{clean}">Moved Permanently</a>.\n\n'.encode()
    assert call(server.url, "GET", "//health?serializable=true").headers["location"] == \
        "/health?serializable=true"


@pytest.mark.parametrize("name", TARGETS)
def test_a_gateway_call_with_a_client_certificate_is_refused_while_auth_is_on(name, tmp_path):
    """etcd's access controller: with --client-cert-auth and auth enabled, a /v3/ call whose
    client certificate has a CN gets 400 (the gateway would drop the CN)."""
    from etcdlite.tls import make_test_certificates
    from http_helpers import enable_auth, tls_context

    server = start_target(name, tmp_path, tls=make_test_certificates(tmp_path / "certs"),
                          client_cert_auth=True, bcrypt_cost=4, etcd_args=["--bcrypt-cost", "4"])
    try:
        context = tls_context(server)
        assert call(server.url, "POST", "/v3/kv/range", b'{"key": "YQ=="}', context=context).status == 200
        enable_auth(server)
        refused = call(server.url, "POST", "/v3/kv/range", b'{"key": "YQ=="}', context=context)
        assert (refused.status, refused.body) == (400, b"CommonName of client sending a request "
                                                       b"against gateway will be ignored and not "
                                                       b"used as expected\n")
        assert "access-control-allow-origin" not in refused.headers
        assert call(server.url, "GET", "/health", context=context).status == 200
    finally:
        server.close()
