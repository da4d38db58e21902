"""The TLS and auth flags on the command line and in the config file: what etcdlite takes into its
Config, and the refusals, in the words real etcd 3.5.1 (and 3.4.23, where it says the same) uses.

etcdlite's refusals of TLS settings gRPC core cannot honour (--tls-min-version TLS1.3,
--tls-max-version TLS1.2, other cipher suites) have no etcd counterpart: etcd 3.5.8+ honours them.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import time

import pytest

from etcd_targets import etcd_binary, free_port
from etcdlite.cli import CommandLineError, load
from etcdlite.tls import GRPC_CIPHER_SUITES, make_test_certificates
from test_cli_matches_real_etcd import _clean_env, _stop


def _load(*argv: str):
    return load([*argv, "--memory"], {})


def _error(*argv: str) -> str:
    with pytest.raises(CommandLineError) as info:
        _load(*argv)
    return str(info.value)


def _warnings(*argv: str) -> list[str]:
    return [text for level, text in _load(*argv)[2].notes if level >= logging.WARNING]


# -- in process -------------------------------------------------------------------------------

def test_tls_flags_fill_the_config(tmp_path):
    config = _load("--cert-file", "s.pem", "--key-file", "k.pem", "--trusted-ca-file", "ca.pem",
                   "--client-cert-auth", "--auto-tls", "--self-signed-cert-validity", "2")[0]
    assert (config.cert_file, config.key_file, config.trusted_ca_file) == ("s.pem", "k.pem", "ca.pem")
    assert config.client_cert_auth and config.auto_tls and config.self_signed_cert_validity == 2
    default = _load()[0]
    assert default.cert_file is None and not default.client_cert_auth and default.cipher_suites == []


def test_tls_versions_and_cipher_suites_gRPC_core_uses_are_accepted():
    config = _load("--tls-min-version", "TLS1.2", "--tls-max-version", "TLS1.3",
                   "--cipher-suites", ",".join(reversed(GRPC_CIPHER_SUITES)))[0]
    assert (config.tls_min_version, config.tls_max_version) == ("TLS1.2", "TLS1.3")
    assert sorted(config.cipher_suites) == sorted(GRPC_CIPHER_SUITES)
    assert _load("--tls-max-version", "")[0].tls_max_version == ""


def test_tls_settings_gRPC_core_cannot_honour_are_refused_saying_why():
    for argv in (["--tls-min-version", "TLS1.3"], ["--tls-max-version", "TLS1.2"],
                 ["--cipher-suites", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]):
        error = _error(*argv)
        assert "is refused" in error and "grpcio offers no setting" in error, argv
        assert "\n" not in error


def test_etcds_own_tls_option_checks_come_first():
    assert _error("--tls-min-version", "TLS1.1") == \
        'unexpected TLS version "TLS1.1" (must be one of: TLS1.2, TLS1.3)'
    assert _error("--tls-min-version", "TLS1.3", "--tls-max-version", "TLS1.2") == \
        "min version (TLS1.3) is greater than max version (TLS1.2)"
    assert _error("--tls-min-version", "TLS1.3", "--cipher-suites",
                  "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") == \
        "cipher suites cannot be configured when only TLS1.3 is enabled"
    assert _error("--cipher-suites", "bogus") == 'unexpected TLS cipher suite "bogus"'


def test_auth_flags_fill_the_config():
    config = _load("--auth-token", "simple", "--auth-token-ttl", "60", "--bcrypt-cost", "4")[0]
    assert (config.auth_token, config.auth_token_ttl, config.bcrypt_cost) == ("simple", 60, 4)
    assert _load()[0].auth_token == "simple"


def test_a_jwt_auth_token_with_usable_keys_is_accepted(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private, public = tmp_path / "jwt.key", tmp_path / "jwt.pub"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    option = f"jwt,pub-key={public},priv-key={private},sign-method=RS256,ttl=10m"
    assert _load("--auth-token", option)[0].auth_token == option


def test_bad_auth_tokens_are_refused_as_etcd_refuses_them():
    assert _error("--auth-token", "bogus") == "auth: invalid auth options"
    assert _error("--auth-token", "simple,novalue") == "auth: invalid auth options"
    assert _error("--auth-token", "jwt,sign-method=HS256") == "auth: missing key data"
    assert _error("--auth-token", "jwt") == ("auth: invalid auth options (problem loading JWT "
                                             "options: auth: invalid auth signature method)")
    assert _error("--auth-token", "jwt,pub-key=/no/such.pub,priv-key=/no/such.key,"
                                  "sign-method=RS256") == (
        "auth: invalid auth options (problem loading JWT options: open /no/such.pub: no such file "
        "or directory)")


def test_a_bcrypt_cost_out_of_range_is_etcds_default_with_its_warning():
    assert _load("--bcrypt-cost", "3")[0].bcrypt_cost == 10
    assert _warnings("--bcrypt-cost", "32") == [
        "use default bcrypt cost instead of the invalid given cost (min-cost 4, max-cost 31, "
        "default-cost 10, given-cost 32)"]


def test_config_file_reads_tls_under_client_transport_security_and_auth_keys(tmp_path):
    path = tmp_path / "etcd.conf.yml"
    path.write_text(f"""
name: tls
client-transport-security:
  cert-file: /c/server.pem
  key-file: /c/server-key.pem
  client-cert-auth: true
  trusted-ca-file: /c/ca.pem
  auto-tls: false
cipher-suites: [{", ".join(GRPC_CIPHER_SUITES)}]
tls-min-version: TLS1.2
auth-token: simple
auth-token-ttl: 120
bcrypt-cost: 11
self-signed-cert-validity: 3
cert-file: /top/level/is/not/an/etcd/key.pem
""")
    config, _, settings = load(["--config-file", str(path)], {})
    assert (config.cert_file, config.key_file, config.trusted_ca_file) == \
        ("/c/server.pem", "/c/server-key.pem", "/c/ca.pem")
    assert config.client_cert_auth and not config.auto_tls
    assert sorted(config.cipher_suites) == sorted(GRPC_CIPHER_SUITES)
    assert (config.auth_token_ttl, config.bcrypt_cost, config.self_signed_cert_validity) == (120, 11, 3)
    assert any("unknown key 'cert-file'" in text for _, text in settings.notes)


def test_config_file_type_errors_name_the_nested_key(tmp_path):
    path = tmp_path / "etcd.conf.yml"
    path.write_text("client-transport-security:\n  client-cert-auth: yes-please\n")
    with pytest.raises(CommandLineError) as info:
        load(["--config-file", str(path)], {})
    assert str(info.value) == (
        "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go "
        "struct field configYAML.client-transport-security.client-cert-auth of type bool")


# -- against real etcd ------------------------------------------------------------------------

_PORT = re.compile(r"127\.0\.0\.1:\d+")
_ETCD_ERRORS = ("failed to verify flags", "failed to start etcd", "listener failed")


def _etcd_error(stderr: str) -> str:
    """The error of etcd's first fatal record (zap JSON, as both releases log with --logger zap)."""
    for line in stderr.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("msg") in _ETCD_ERRORS:
                return record["error"]
    return stderr


def _run(command: list[str], args: list[str], tmp_path, scheme: str = "https") -> tuple[int, str]:
    client, peer = free_port(), free_port()
    url = f"{scheme}://127.0.0.1:{client}"
    common = ["--data-dir", str(tmp_path / f"data-{time.monotonic_ns()}"),
              "--listen-client-urls", url, "--advertise-client-urls", url,
              "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--logger", "zap"]
    proc = subprocess.Popen(command + common + args, cwd=str(tmp_path), env=_clean_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        _stop(proc)
        pytest.fail(f"{command[0]} {args} started instead of failing")
    return proc.returncode, err


def _refusals(tmp_path) -> list[tuple[list[str], tuple[str, ...]]]:
    certs = make_test_certificates(tmp_path / "certs")
    cert, key, ca = str(certs.server_cert), str(certs.server_key), str(certs.ca_file)
    return [
        ([], ("3.4", "3.5")),
        (["--cert-file", cert], ("3.4", "3.5")),
        (["--cert-file", "/no/such/cert.pem", "--key-file", key], ("3.4", "3.5")),
        (["--cert-file", cert, "--key-file", ca], ("3.4", "3.5")),
        (["--cert-file", ca, "--key-file", key], ("3.4", "3.5")),
        (["--cert-file", cert, "--key-file", key, "--trusted-ca-file", "/no/such/ca.pem"],
         ("3.4", "3.5")),
        (["--cert-file", cert, "--key-file", key, "--cipher-suites", "bogus"], ("3.5",)),
        # etcd checks an https URL for a certificate before the auth token, and the
        # certificate files after it
        (["--auth-token", "bogus"], ("3.4", "3.5")),
        (["--auth-token", "bogus", "--cert-file", "/no/such/cert.pem", "--key-file", key],
         ("3.4", "3.5")),
        (["--auth-token", "jwt,sign-method=HS256"], ("3.4", "3.5")),
        (["--auth-token", "jwt,pub-key=/no/such.pub,priv-key=/no/such.key,sign-method=RS256"],
         ("3.4", "3.5")),
    ]


def test_tls_and_auth_refusals_are_etcds(tmp_path):
    """Each command line fails on etcdlite with one line; on real etcd with the same error
    (etcdlite may add the cause etcd logs on an earlier line, in brackets)."""
    compared = 0
    for args, versions in _refusals(tmp_path):
        status, err = _run([sys.executable, "-m", "etcdlite"], args, tmp_path)
        lines = err.strip().splitlines()
        assert status != 0 and len(lines) == 1 and lines[0].startswith("etcdlite: "), (args, err)
        ours = _PORT.sub("127.0.0.1:PORT", lines[0][len("etcdlite: "):])
        for version in versions:
            binary = etcd_binary(version)
            if binary is None:
                continue
            etcd_status, etcd_err = _run([binary], args, tmp_path)
            theirs = _PORT.sub("127.0.0.1:PORT", _etcd_error(etcd_err))
            assert etcd_status != 0, (version, args)
            assert ours == theirs or ours.startswith(theirs + " ("), (version, args, ours, theirs)
            compared += 1
    if not compared:
        pytest.skip("no real etcd installed")
