"""Certificates made by etcdlite.tls verify with openssl, as TLS peers check them."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from etcdlite.tls import make_test_certificates, self_signed

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def _openssl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)


@needs_openssl
def test_test_ca_signs_server_and_client_certificates(tmp_path):
    files = make_test_certificates(tmp_path, client_common_name="alice")
    for cert, purpose in ((files.server_cert, "sslserver"), (files.client_cert, "sslclient")):
        proc = _openssl("verify", "-purpose", purpose, "-CAfile", str(files.ca_file), str(cert))
        assert proc.returncode == 0, proc.stderr
    subject = _openssl("x509", "-noout", "-subject", "-in", str(files.client_cert)).stdout
    assert "CN = alice" in subject or "CN=alice" in subject
    sans = _openssl("x509", "-noout", "-ext", "subjectAltName", "-in", str(files.server_cert)).stdout
    assert "IP Address:127.0.0.1" in sans and "DNS:localhost" in sans
    assert (files.server_key.stat().st_mode & 0o777) == 0o600


@needs_openssl
def test_auto_tls_certificate_is_self_signed_and_reused(tmp_path):
    cert, key = self_signed(tmp_path / "fixtures" / "client", ["127.0.0.1"])
    proc = _openssl("verify", "-CAfile", str(cert), str(cert))
    assert proc.returncode == 0, proc.stderr
    first = cert.read_bytes()
    assert self_signed(tmp_path / "fixtures" / "client", ["127.0.0.1"])[0].read_bytes() == first
