"""Certificates: etcd's ``--auto-tls`` self-signed server certificate, and a throw-away certificate
authority for tests that need TLS (server and client certificates signed by one CA).

Plain crypto with ``cryptography``; no gRPC here (the transport turns the files into credentials).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: etcd's --self-signed-cert-validity default: one year
SELF_SIGNED_VALIDITY_DAYS = 365


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _subject_alt_names(hosts: list[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _certificate(subject: str, key, issuer_name: x509.Name, issuer_key, *, days: int,
                 hosts: list[str] | None = None, ca: bool = False,
                 usages: tuple = (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH)):
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "etcd"),
                      x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (x509.CertificateBuilder()
               .subject_name(name)
               .issuer_name(issuer_name if issuer_name is not None else name)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
    else:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_encipherment=True, content_commitment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
    if hosts:
        builder = builder.add_extension(_subject_alt_names(hosts), critical=False)
    return builder.sign(issuer_key if issuer_key is not None else key, hashes.SHA256())


def self_signed(directory: str | os.PathLike, hosts: list[str],
                days: int = SELF_SIGNED_VALIDITY_DAYS) -> tuple[Path, Path]:
    """etcd's ``--auto-tls``: a self-signed certificate for ``hosts`` in ``directory`` as
    ``cert.pem`` and ``key.pem``; kept and reused when both files are already there."""
    directory = Path(directory)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    if cert_path.is_file() and key_path.is_file():
        return cert_path, key_path
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = _key()
    cert = _certificate("etcdlite", key, None, None, days=days, hosts=hosts)
    _write(key_path, _key_pem(key), 0o600)
    _write(cert_path, _cert_pem(cert), 0o644)
    return cert_path, key_path


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


@dataclass(frozen=True)
class Certificates:
    """Files of a test CA and the certificates it signed."""

    ca_file: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_test_certificates(directory: str | os.PathLike, hosts: list[str] | None = None,
                      client_common_name: str = "root", days: int = 7) -> Certificates:
    """A fresh CA, a server certificate for ``hosts`` (default 127.0.0.1, localhost) and a client
    certificate whose CN is ``client_common_name`` (with ``--client-cert-auth`` and auth enabled,
    etcd takes the CN as the user)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    hosts = hosts or ["127.0.0.1", "localhost"]
    ca_key = _key()
    ca_cert = _certificate("etcdlite test CA", ca_key, None, None, days=days, ca=True)
    server_key, client_key = _key(), _key()
    server_cert = _certificate("etcdlite", server_key, ca_cert.subject, ca_key, days=days,
                               hosts=hosts)
    client_cert = _certificate(client_common_name, client_key, ca_cert.subject, ca_key, days=days,
                               usages=(ExtendedKeyUsageOID.CLIENT_AUTH,))
    files = Certificates(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem",
                         directory / "client.pem", directory / "client-key.pem")
    _write(files.ca_file, _cert_pem(ca_cert), 0o644)
    _write(files.server_cert, _cert_pem(server_cert), 0o644)
    _write(files.server_key, _key_pem(server_key), 0o600)
    _write(files.client_cert, _cert_pem(client_cert), 0o644)
    _write(files.client_key, _key_pem(client_key), 0o600)
    return files
