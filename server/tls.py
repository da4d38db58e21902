"""Certificates: etcd's ``--auto-tls`` self-signed server certificate, and a throw-away certificate
authority for tests that need TLS (server and client certificates signed by one CA).

Plain crypto with ``cryptography``; no gRPC here (the transport turns the files into credentials).
"""

from __future__ import annotations

import base64
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


def _certificate(subject: str | None, key, issuer_name: x509.Name, issuer_key, *, days: int,
                 hosts: list[str] | None = None, ca: bool = False,
                 usages: tuple = (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH)):
    now = datetime.datetime.now(datetime.timezone.utc)
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "etcd")]
    if subject is not None:
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, subject))
    name = x509.Name(attributes)
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
    ``cert.pem`` and ``key.pem``; kept and reused when both files are already there. Like etcd's:
    subject O=etcd without a CN, server-auth usage, not a CA (etcd's key is P-521; P-256 here)."""
    directory = Path(directory)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    if cert_path.is_file() and key_path.is_file():
        return cert_path, key_path
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = _key()
    cert = _certificate(None, key, None, None, days=days, hosts=hosts,
                        usages=(ExtendedKeyUsageOID.SERVER_AUTH,))
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
    #: the CA's private key, to sign more client certificates (:func:`client_certificate`)
    ca_key: Path | None = None


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
                         directory / "client.pem", directory / "client-key.pem",
                         directory / "ca-key.pem")
    _write(files.ca_file, _cert_pem(ca_cert), 0o644)
    _write(files.ca_key, _key_pem(ca_key), 0o600)
    _write(files.server_cert, _cert_pem(server_cert), 0o644)
    _write(files.server_key, _key_pem(server_key), 0o600)
    _write(files.client_cert, _cert_pem(client_cert), 0o644)
    _write(files.client_key, _key_pem(client_key), 0o600)
    return files


def client_certificate(certificates: Certificates, common_name: str,
                       directory: str | os.PathLike | None = None, days: int = 7) -> tuple[Path, Path]:
    """One more client certificate (CN ``common_name``) from the test CA of ``certificates``,
    written as ``<common_name>.pem`` and ``<common_name>-key.pem`` (in the CA's directory unless
    ``directory`` is given): another user for ``--client-cert-auth`` with auth enabled."""
    if certificates.ca_key is None:
        raise ValueError("these certificates have no CA key to sign with")
    ca_cert = x509.load_pem_x509_certificate(certificates.ca_file.read_bytes())
    ca_key = serialization.load_pem_private_key(certificates.ca_key.read_bytes(), password=None)
    directory = Path(directory) if directory is not None else certificates.ca_file.parent
    directory.mkdir(parents=True, exist_ok=True)
    key = _key()
    cert = _certificate(common_name, key, ca_cert.subject, ca_key, days=days,
                        usages=(ExtendedKeyUsageOID.CLIENT_AUTH,))
    cert_path, key_path = directory / f"{common_name}.pem", directory / f"{common_name}-key.pem"
    _write(cert_path, _cert_pem(cert), 0o644)
    _write(key_path, _key_pem(key), 0o600)
    return cert_path, key_path


# -- serving: the files etcd's TLSInfo reads, checked as Go's crypto/tls checks them -------------

class TLSFileError(ValueError):
    """A certificate, key or CA file that etcd would refuse; the text is Go's (crypto/tls, x509)."""


@dataclass(frozen=True)
class ServerFiles:
    """The PEM bytes a TLS listener serves with. ``client_roots`` is set when client certificates
    are required and verified (etcd: ``--trusted-ca-file`` given, or ``--client-cert-auth``)."""

    certificate_chain: bytes
    private_key: bytes
    client_roots: bytes | None


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise TLSFileError(f"open {path}: {(exc.strerror or str(exc)).lower()}") from None


def _pem_blocks(data: bytes) -> list[tuple[str, bytes]]:
    """(type, whole block) of each PEM block, as Go's pem.Decode finds them."""
    blocks = []
    text = data.decode("latin-1")
    start = 0
    while True:
        begin = text.find("-----BEGIN ", start)
        if begin < 0:
            return blocks
        type_end = text.find("-----", begin + 11)
        if type_end < 0:
            return blocks
        kind = text[begin + 11:type_end]
        end_marker = f"-----END {kind}-----"
        end = text.find(end_marker, type_end)
        if end < 0:
            return blocks
        end += len(end_marker)
        blocks.append((kind, text[begin:end].encode("latin-1")))
        start = end


def _public_der(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def _key_pair(cert_pem: bytes, key_pem: bytes) -> None:
    """Go's ``tls.X509KeyPair`` checks, with its error texts."""
    cert_blocks = _pem_blocks(cert_pem)
    certs = [block for kind, block in cert_blocks if kind == "CERTIFICATE"]
    if not certs:
        if not cert_blocks:
            raise TLSFileError("tls: failed to find any PEM data in certificate input")
        if any(kind.endswith("PRIVATE KEY") for kind, _ in cert_blocks):
            raise TLSFileError("tls: failed to find certificate PEM data in certificate input, "
                               "but did find a private key; PEM inputs may have been switched")
        skipped = " ".join(kind for kind, _ in cert_blocks)
        raise TLSFileError('tls: failed to find "CERTIFICATE" PEM block in certificate input '
                           f"after skipping PEM blocks of the following types: [{skipped}]")
    key_blocks = _pem_blocks(key_pem)
    keys = [block for kind, block in key_blocks if kind == "PRIVATE KEY" or kind.endswith(" PRIVATE KEY")]
    if not keys:
        if not key_blocks:
            raise TLSFileError("tls: failed to find any PEM data in key input")
        if any(kind == "CERTIFICATE" for kind, _ in key_blocks):
            raise TLSFileError("tls: found a certificate rather than a key in the PEM for the "
                               "private key")
        skipped = " ".join(kind for kind, _ in key_blocks)
        raise TLSFileError('tls: failed to find PEM block with type ending in "PRIVATE KEY" in key '
                           f"input after skipping PEM blocks of the following types: [{skipped}]")
    try:
        leaf = x509.load_pem_x509_certificate(certs[0])
    except ValueError as exc:
        raise TLSFileError(f"x509: {exc}") from None
    try:
        key = serialization.load_pem_private_key(keys[0], password=None)
    except (ValueError, TypeError):
        raise TLSFileError("tls: failed to parse private key") from None
    try:
        matches = _public_der(leaf.public_key()) == _public_der(key.public_key())
    except (ValueError, TypeError, AttributeError):
        matches = False
    if not matches:
        raise TLSFileError("tls: private key does not match public key")


def _cert_pool(path: str) -> bytes:
    """Go's ``tlsutil.NewCertPool`` for one file: every PEM block must parse as a certificate."""
    data = _read(path)
    blocks = _pem_blocks(data)
    for _, block in blocks:
        body = b"".join(line for line in block.splitlines()[1:-1] if b":" not in line)
        try:
            x509.load_der_x509_certificate(base64.b64decode(body))
        except ValueError:
            raise TLSFileError(f"x509: malformed certificate in {path}") from None
    if not blocks:
        raise TLSFileError(f"no certificates in {path}: no client certificate could be verified "
                           "(etcd would start and refuse every client)")
    return data


def system_roots() -> bytes:
    """The system's CA bundle: Go verifies client certificates against it when
    ``--client-cert-auth`` is set without ``--trusted-ca-file``."""
    import ssl

    paths = ssl.get_default_verify_paths()
    for candidate in (os.environ.get("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"), paths.cafile,
                      paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and os.path.isfile(candidate):
            return _read(candidate)
    raise TLSFileError("--client-cert-auth without --trusted-ca-file verifies client certificates "
                       "against the system's CA bundle, and none was found; give --trusted-ca-file")


def server_files(cert_file: str, key_file: str, trusted_ca_file: str = "",
                 client_cert_auth: bool = False) -> ServerFiles:
    """What etcd's ``TLSInfo.ServerConfig`` reads, checked in its order and with its errors."""
    if not cert_file or not key_file:
        raise TLSFileError(f"KeyFile and CertFile must both be present[key: {key_file}, "
                           f"cert: {cert_file}]")
    cert_pem, key_pem = _read(cert_file), _read(key_file)
    _key_pair(cert_pem, key_pem)
    roots = None
    if trusted_ca_file:
        roots = _cert_pool(trusted_ca_file)
    elif client_cert_auth:
        roots = system_roots()
    return ServerFiles(cert_pem, key_pem, roots)


# -- --tls-min-version, --tls-max-version, --cipher-suites ------------------------------------

#: Go's names (``tls.CipherSuites()``, ``tls.InsecureCipherSuites()`` and two aliases): what
#: etcd's ``--cipher-suites`` accepts
GO_CIPHER_SUITES = frozenset("""
TLS_RSA_WITH_AES_128_CBC_SHA TLS_RSA_WITH_AES_256_CBC_SHA TLS_RSA_WITH_AES_128_GCM_SHA256
TLS_RSA_WITH_AES_256_GCM_SHA384 TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384
TLS_CHACHA20_POLY1305_SHA256 TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA
TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA
TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
TLS_RSA_WITH_RC4_128_SHA TLS_RSA_WITH_3DES_EDE_CBC_SHA TLS_RSA_WITH_AES_128_CBC_SHA256
TLS_ECDHE_ECDSA_WITH_RC4_128_SHA TLS_ECDHE_RSA_WITH_RC4_128_SHA TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA
TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256
TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305 TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305
""".split())

#: The TLS 1.2 suites gRPC core offers (its default ``GRPC_SSL_CIPHER_SUITES``: ECDHE-ECDSA- and
#: ECDHE-RSA-AES128/256-GCM), in Go's names. grpcio's Python API cannot change them; TLS 1.3
#: suites are not configurable in Go either.
GRPC_CIPHER_SUITES = ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                      "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                      "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                      "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")

_TLS_VERSIONS = {"": 0, "TLS1.2": 0x0303, "TLS1.3": 0x0304}

_GRPC_FIXED = ("etcdlite's TLS is gRPC core's, which always accepts TLS 1.2 and TLS 1.3 with its "
               "own cipher suites, and grpcio offers no setting to change that")


class TLSOptionError(ValueError):
    """--tls-min-version / --tls-max-version / --cipher-suites that etcd or etcdlite refuses."""


def check_tls_options(min_version: str | None, max_version: str | None,
                      cipher_suites: list[str]) -> None:
    """etcd's checks (``GetTLSVersion``, ``embed.Config.Validate``, ``GetCipherSuite``), then
    etcdlite's: only the values that describe what gRPC core does anyway are accepted."""
    min_version = "TLS1.2" if min_version is None else min_version
    max_version = "" if max_version is None else max_version
    for version in (min_version, max_version):
        if version not in _TLS_VERSIONS:
            raise TLSOptionError(f'unexpected TLS version "{version}" (must be one of: TLS1.2, TLS1.3)')
    low, high = _TLS_VERSIONS[min_version], _TLS_VERSIONS[max_version]
    if high and low > high:
        raise TLSOptionError(f"min version ({min_version}) is greater than max version ({max_version})")
    if low == _TLS_VERSIONS["TLS1.3"] and cipher_suites:
        raise TLSOptionError("cipher suites cannot be configured when only TLS1.3 is enabled")
    for suite in cipher_suites:
        if suite not in GO_CIPHER_SUITES:
            raise TLSOptionError(f'unexpected TLS cipher suite "{suite}"')
    if low == _TLS_VERSIONS["TLS1.3"]:
        raise TLSOptionError(f"--tls-min-version={min_version} is refused: {_GRPC_FIXED}")
    if high == _TLS_VERSIONS["TLS1.2"]:
        raise TLSOptionError(f"--tls-max-version={max_version} is refused: {_GRPC_FIXED}")
    if cipher_suites and set(cipher_suites) != set(GRPC_CIPHER_SUITES):
        raise TLSOptionError(f"--cipher-suites={','.join(cipher_suites)} is refused: {_GRPC_FIXED} "
                             f"(TLS 1.2: {','.join(GRPC_CIPHER_SUITES)}); give exactly these, in any "
                             "order, or none")
