"""Start the servers the coordination benchmarks compare: real etcd and etcdlite, as processes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Iterator

import grpc

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)  # run from a checkout without installing

from etcdlite.proto import rpc_pb2, rpc_pb2_grpc  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


_EAGER_RECONNECT = [("grpc.initial_reconnect_backoff_ms", 20), ("grpc.min_reconnect_backoff_ms", 20),
                    ("grpc.max_reconnect_backoff_ms", 20)]


def wait_ready(endpoint: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    """Until the server answers a Range (or exits: RuntimeError). The channel retries its
    connection every 20 ms: gRPC's default backoff (1 s, growing) would add up to a second or
    more to a restart's measured time after an attempt made before the server listened."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(endpoint, options=_EAGER_RECONNECT) as channel:
        kv = rpc_pb2_grpc.KVStub(channel)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            try:
                kv.Range(rpc_pb2.RangeRequest(key=b"health"), timeout=1)
                return
            except grpc.RpcError:
                time.sleep(0.01)
    raise RuntimeError("server did not become ready")


def command(kind: str, endpoint: str, data: str) -> list[str]:
    """kind: "etcd" (real etcd 3.4), "etcd35" (``$ETCD35_DIR/etcd``, default /opt/etcd-3.5.1),
    "etcdlite" (LMDB on ``data``) or "etcdlite-memory"."""
    if kind in ("etcd", "etcd35"):
        peer = free_port()
        binary = (shutil.which("etcd") or "/usr/bin/etcd") if kind == "etcd" else \
            os.path.join(os.environ.get("ETCD35_DIR", "/opt/etcd-3.5.1"), "etcd")
        return [binary, "--name", "default", "--data-dir", data,
                "--listen-client-urls", f"http://{endpoint}", "--advertise-client-urls", f"http://{endpoint}",
                "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-cluster", f"default=http://127.0.0.1:{peer}", "--log-level", "error"]
    return [sys.executable, "-m", "etcdlite", "--listen-client-urls", f"http://{endpoint}",
            "--log-level", "error", "--data-dir", "" if kind == "etcdlite-memory" else data]


def start(kind: str, data: str, extra: list[str] | None = None) -> tuple[subprocess.Popen, str]:
    """The server of ``kind`` on a free port and ``data`` (not waited for); (process, endpoint)."""
    endpoint = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(command(kind, endpoint, data) + (extra or []), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, PYTHONPATH=REPO))
    return proc, endpoint


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL after ``timeout``; returns once it has exited."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def server(kind: str, extra: list[str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """A ready server of ``kind`` (see :func:`command`) on a temp data dir, stopped afterwards."""
    data = tempfile.mkdtemp(prefix=f"bench-{kind}-")
    proc, endpoint = start(kind, data, extra)
    try:
        wait_ready(endpoint, proc)
        yield endpoint, proc
    finally:
        stop(proc)
        shutil.rmtree(data, ignore_errors=True)


def percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"n": len(ordered), "p50": pick(0.50), "p90": pick(0.90), "p99": pick(0.99), "max": ordered[-1]}


def benchmark_main(parser, measure, server_flags=None) -> None:
    """The shared ``main`` of the coordination benchmarks.

    ``parser`` holds the benchmark's own options; ``measure(endpoint, args)`` is a coroutine
    function returning a dict of results; ``server_flags(args)`` may add flags to the server's
    command line (for the target in ``args.targets``). Without ``--single`` every target of ``--targets`` gets a
    process of its own; with it, one server is started, measured and its results printed as JSON.
    """
    import argparse
    import asyncio
    import json

    parser.add_argument("--targets", default="etcdlite,etcd")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.single:
        run_per_target(args.targets, strip_targets(sys.argv[1:]))
        return
    extra = server_flags(args) if server_flags else None
    with server(args.targets, extra) as (endpoint, proc):
        result = asyncio.run(measure(endpoint, args))
        result["peak_rss_mb"] = peak_rss_mb(proc.pid)
    print(args.targets, json.dumps(result, indent=1), flush=True)


def run_per_target(targets: str, argv: list[str]) -> None:
    """Run this benchmark script once per target, each in a fresh process (grpc.aio binds its
    poller to the first event loop of a process)."""
    for kind in targets.split(","):
        subprocess.run([sys.executable, sys.argv[0], *argv, "--targets", kind, "--single"], check=True)


def strip_targets(argv: list[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--targets":
            skip = True
            continue
        if arg.startswith("--targets="):
            continue
        out.append(arg)
    return out
