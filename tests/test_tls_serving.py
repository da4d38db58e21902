"""TLS on the client URLs, the same on etcdlite and real etcd 3.4.23 and 3.5.1: https listeners
(also beside http ones), client certificate authentication, etcdctl and python-etcd3 over TLS,
auto TLS, and which TLS versions the handshake takes.

Certificates come from etcdlite.tls.make_test_certificates: a throw-away CA, a server certificate
for 127.0.0.1/localhost and a client certificate (CN root), fresh in each test's tmp_path.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import socket
import ssl
import subprocess
import sys
import textwrap

import grpc
import pytest

from etcd_targets import Target, start_target
from etcdlite.proto import rpc_pb2, rpc_pb2_grpc
from etcdlite.tls import Certificates, client_certificate, make_test_certificates

TARGETS = ["etcdlite", "etcd-3.4", "etcd-3.5"]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def certs(tmp_path) -> Certificates:
    return make_test_certificates(tmp_path / "certs")


@pytest.fixture
def other_ca(tmp_path) -> Certificates:
    """A second CA with its own client certificate: a server trusting ``certs`` refuses it."""
    return make_test_certificates(tmp_path / "other-ca")


@pytest.fixture(params=TARGETS)
def name(request: pytest.FixtureRequest) -> str:
    return request.param


def _started(name: str, tmp_path, **options) -> Target:
    return start_target(name, tmp_path, **options)


def _put(endpoint: str, credentials: grpc.ChannelCredentials | None, key: bytes = b"k",
         value: bytes = b"v") -> int:
    channel = grpc.insecure_channel(endpoint) if credentials is None else \
        grpc.secure_channel(endpoint, credentials)
    with channel:
        return rpc_pb2_grpc.KVStub(channel).Put(rpc_pb2.PutRequest(key=key, value=value),
                                                timeout=5).header.revision


def _get(endpoint: str, credentials: grpc.ChannelCredentials | None, key: bytes = b"k") -> list:
    channel = grpc.insecure_channel(endpoint) if credentials is None else \
        grpc.secure_channel(endpoint, credentials)
    with channel:
        reply = rpc_pb2_grpc.KVStub(channel).Range(rpc_pb2.RangeRequest(key=key), timeout=5)
        return [(kv.key, kv.value) for kv in reply.kvs]


def _refused(endpoint: str, credentials: grpc.ChannelCredentials | None) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        _put(endpoint, credentials)
    return info.value.code()


def _credentials(ca: Certificates, client: Certificates | None = None) -> grpc.ChannelCredentials:
    if client is None:
        return grpc.ssl_channel_credentials(root_certificates=ca.ca_file.read_bytes())
    return grpc.ssl_channel_credentials(root_certificates=ca.ca_file.read_bytes(),
                                        private_key=client.client_key.read_bytes(),
                                        certificate_chain=client.client_cert.read_bytes())


# -- https ------------------------------------------------------------------------------------

def test_https_url_serves_grpc_to_a_client_that_verifies_the_server(name, certs, tmp_path):
    target = _started(name, tmp_path, tls=certs)
    try:
        assert target.url.startswith("https://127.0.0.1:")
        assert _put(target.endpoint, _credentials(certs)) == 2
        assert _get(target.endpoint, _credentials(certs)) == [(b"k", b"v")]
        # a plaintext client on the TLS port, and a client trusting another CA, get nowhere
        assert _refused(target.endpoint, None) == grpc.StatusCode.UNAVAILABLE
        other = make_test_certificates(tmp_path / "untrusted")
        assert _refused(target.endpoint, _credentials(other)) == grpc.StatusCode.UNAVAILABLE
    finally:
        target.close()


def test_http_and_https_urls_serve_the_same_keyspace(name, certs, tmp_path):
    target = _started(name, tmp_path, tls=certs, also_http=True)
    try:
        assert target.plain_endpoint is not None
        assert _put(target.endpoint, _credentials(certs), b"via-https") == 2
        assert _get(target.plain_endpoint, None, b"via-https") == [(b"via-https", b"v")]
        assert _put(target.plain_endpoint, None, b"via-http") == 3
        assert _get(target.endpoint, _credentials(certs), b"via-http") == [(b"via-http", b"v")]
        members = rpc_pb2_grpc.ClusterStub(target.channel).MemberList(
            rpc_pb2.MemberListRequest(), timeout=5).members
        assert sorted(members[0].clientURLs) == sorted(
            [f"https://{target.endpoint}", f"http://{target.plain_endpoint}"])
    finally:
        target.close()


# -- client certificates ----------------------------------------------------------------------

def test_client_cert_auth_refuses_no_certificate_and_one_from_another_ca(name, certs, other_ca,
                                                                        tmp_path):
    target = _started(name, tmp_path, tls=certs, client_cert_auth=True)
    try:
        assert _refused(target.endpoint, _credentials(certs)) == grpc.StatusCode.UNAVAILABLE
        assert _refused(target.endpoint, _credentials(certs, other_ca)) == \
            grpc.StatusCode.UNAVAILABLE
        assert _put(target.endpoint, _credentials(certs, certs)) == 2
    finally:
        target.close()


def test_a_trusted_ca_file_alone_already_requires_client_certificates(name, certs, tmp_path):
    """etcd's TLSInfo.ServerConfig: --trusted-ca-file implies RequireAndVerifyClientCert."""
    ca = str(certs.ca_file)
    target = _started(name, tmp_path, tls=certs, trusted_ca_file=ca,
                      etcd_args=["--trusted-ca-file", ca])
    try:
        assert _refused(target.endpoint, _credentials(certs)) == grpc.StatusCode.UNAVAILABLE
        assert _put(target.endpoint, _credentials(certs, certs)) == 2
    finally:
        target.close()


def test_client_cert_auth_does_not_apply_to_an_http_url(name, certs, tmp_path):
    target = _started(name, tmp_path, tls=certs, client_cert_auth=True, also_http=True)
    try:
        assert _put(target.plain_endpoint, None) == 2
    finally:
        target.close()


# -- etcdctl and python-etcd3 -----------------------------------------------------------------

def test_etcdctl_with_cacert_cert_and_key_puts_and_gets(name, certs, tmp_path):
    target = _started(name, tmp_path, tls=certs, client_cert_auth=True)
    try:
        assert target.etcdctl("put", "greeting", "hello").stdout.strip() == "OK"
        assert target.etcdctl("get", "greeting").stdout.split() == ["greeting", "hello"]
        no_ca = target.etcdctl("get", "greeting", "--cacert", "", "--dial-timeout", "2s",
                               "--command-timeout", "3s", check=False)
        assert no_ca.returncode != 0
    finally:
        target.close()


def test_python_etcd3_with_ca_and_client_certificate(name, certs, tmp_path):
    if importlib.util.find_spec("etcd3") is None:  # importing it here would break protobuf
        pytest.skip("etcd3 is not installed")
    target = _started(name, tmp_path, tls=certs, client_cert_auth=True)
    try:
        host, port = target.endpoint.rsplit(":", 1)
        code = textwrap.dedent(f"""
            import etcd3
            client = etcd3.client(host={host!r}, port={port}, ca_cert={str(certs.ca_file)!r},
                                  cert_key={str(certs.client_key)!r},
                                  cert_cert={str(certs.client_cert)!r})
            client.put("greeting", "hello")
            value, meta = client.get("greeting")
            print(value.decode(), meta.mod_revision)
            client.close()
        """)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=60, cwd=REPO,
                              env=dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python"))
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == ["hello", "2"]
    finally:
        target.close()


# -- auto TLS ---------------------------------------------------------------------------------

def test_auto_tls_serves_https_with_a_self_signed_certificate(name, tmp_path):
    target = _started(name, tmp_path, auto_tls=True, client_cert_auth=True)
    try:
        # etcdctl without a CA (etcd 3.4's etcdctl also needs --insecure-transport=false)
        assert target.etcdctl("put", "k", "v").stdout.strip() == "OK"
        assert target.etcdctl("get", "k", "--print-value-only").stdout.strip() == "v"
        pem = ssl.get_server_certificate(tuple(_host_port(target.endpoint)))
        from cryptography import x509
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        cert = x509.load_pem_x509_certificate(pem.encode())
        assert cert.issuer == cert.subject
        assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "etcd"
        assert not cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == \
            [ExtendedKeyUsageOID.SERVER_AUTH]
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
        # --auto-tls replaces the client TLS settings: --client-cert-auth no longer applies,
        # and a grpcio client that trusts the certificate itself gets in (not into etcd 3.4.23's:
        # its P-521 key in TLS 1.3 has no signature algorithm in common with BoringSSL)
        credentials = grpc.ssl_channel_credentials(root_certificates=pem.encode())
        if target.grpc_cannot_connect:
            assert _refused(target.endpoint, credentials) == grpc.StatusCode.UNAVAILABLE
        else:
            assert _put(target.endpoint, credentials) == 3
    finally:
        target.close()


def test_auto_tls_keeps_its_certificate_under_the_data_dir(tmp_path):
    from etcdlite import EtcdLite

    data_dir = tmp_path / "data"
    with EtcdLite(str(data_dir), auto_tls=True) as etcd:
        assert etcd.url.startswith("https://")
        cert = data_dir / "fixtures" / "client" / "cert.pem"
        assert etcd.ca_file == str(cert) and (data_dir / "fixtures" / "client" / "key.pem").is_file()
        first = cert.read_bytes()
        assert _put(etcd.endpoint, etcd.channel_credentials()) == 2
    with EtcdLite(str(data_dir), auto_tls=True) as etcd:
        assert cert.read_bytes() == first
    with EtcdLite(auto_tls=True) as etcd:  # in memory: a temporary directory, gone at stop
        in_memory = etcd.ca_file
        assert os.path.isfile(in_memory)
    assert not os.path.exists(in_memory)


# -- the handshake ----------------------------------------------------------------------------

def _host_port(endpoint: str) -> tuple[str, int]:
    host, port = endpoint.rsplit(":", 1)
    return host, int(port)


def _handshake(endpoint: str, certs: Certificates, version: ssl.TLSVersion) -> str | None:
    """The TLS version negotiated when the client offers only ``version`` (None: refused)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(str(certs.ca_file))
    context.minimum_version = context.maximum_version = version
    context.set_alpn_protocols(["h2"])
    try:
        with socket.create_connection(_host_port(endpoint), timeout=5) as sock:
            with context.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
                return tls.version()
    except (ssl.SSLError, OSError):
        return None


def test_tls_versions_accepted(name, certs, tmp_path):
    """TLS 1.2 everywhere, never 1.1; TLS 1.3 on etcdlite (gRPC core always offers it, as etcd
    3.5.8+ does by default) and etcd 3.4.23 (built with Go 1.19), not on etcd 3.5.1, which caps
    the client listener at TLS 1.2."""
    target = _started(name, tmp_path, tls=certs)
    try:
        assert _handshake(target.endpoint, certs, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
        expected_13 = None if target.etcd_version == "3.5" else "TLSv1.3"
        assert _handshake(target.endpoint, certs, ssl.TLSVersion.TLSv1_3) == expected_13
    finally:
        target.close()


# -- auth by client certificate ---------------------------------------------------------------

def test_with_auth_enabled_the_client_certificate_cn_is_the_user(name, certs, tmp_path):
    """CN=root acts as root without a password or token; a CN that is no user is refused.
    (etcdlite: needs its Auth service.)"""
    target = _started(name, tmp_path, tls=certs, client_cert_auth=True)
    alice = make_test_certificates(tmp_path / "alice", client_common_name="alice")
    try:
        auth = rpc_pb2_grpc.AuthStub(target.channel)
        auth.UserAdd(rpc_pb2.AuthUserAddRequest(name="root", password="rootpw"), timeout=5)
        auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user="root", role="root"), timeout=5)
        auth.AuthEnable(rpc_pb2.AuthEnableRequest(), timeout=5)
        assert _put(target.endpoint, _credentials(certs, certs), b"as-root") > 1
        assert _get(target.endpoint, _credentials(certs, certs), b"as-root") == [(b"as-root", b"v")]
        # alice's certificate comes from another CA: refused at the handshake; "nobody" has one
        # from the trusted CA but is no user: the request itself is refused
        assert _refused(target.endpoint, _credentials(certs, alice)) == grpc.StatusCode.UNAVAILABLE
        cert, key = client_certificate(certs, "nobody")
        nobody = dataclasses.replace(certs, client_cert=cert, client_key=key)
        assert _refused(target.endpoint, _credentials(certs, nobody)) == \
            grpc.StatusCode.PERMISSION_DENIED
    finally:
        target.close()
