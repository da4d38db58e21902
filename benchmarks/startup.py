#!/usr/bin/env python3
"""How fast a test gets a fresh server: etcdlite in process vs a real etcd.

Measured, each as p50 / p99 (and min / max) over many runs:

  etcdlite start→first Put   EtcdLite().start() in a process that has already imported etcdlite,
                             a new grpc channel, until the first Put has succeeded
  etcdlite stop              EtcdLite.stop() (port and loop released)
  etcdlite reset             EtcdLite.reset() of a server holding 100 keys with history, a lease
                             and an open watch stream
  etcdlite reset→first Put   the same, until a Put on the emptied keyspace has succeeded
  etcd start→first Put       /usr/bin/etcd (or $ETCD_BIN) on a new temp data dir and free ports,
                             from Popen until the first Put has succeeded (it elects itself first)
  etcd stop                  SIGTERM until the process has exited

  python benchmarks/startup.py                 # 100 etcdlite runs, 10 etcd runs
  python benchmarks/startup.py --runs 300 --etcd-runs 5 --json out.json

Every server is started here and stopped in a finally block; each etcd start is bounded by
--etcd-timeout, and the whole run by --max-seconds (remaining runs are skipped, not the cleanup).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import grpc  # noqa: E402

from etcdlite.embed import EtcdLite  # noqa: E402  (imported before timing, as in a test session)
from etcdlite.proto import rpc_pb2, rpc_pb2_grpc  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _first_put(endpoint: str, deadline: float) -> grpc.Channel:
    channel = grpc.insecure_channel(endpoint)
    kv = rpc_pb2_grpc.KVStub(channel)
    while True:
        try:
            kv.Put(rpc_pb2.PutRequest(key=b"first", value=b"put"), timeout=max(0.05, deadline - time.perf_counter()),
                   wait_for_ready=True)
            return channel
        except grpc.RpcError:
            if time.perf_counter() > deadline:
                channel.close()
                raise
            time.sleep(0.005)


def measure_etcdlite(runs: int, stop_at: float) -> dict[str, list[float]]:
    start_put, stop = [], []
    for _ in range(runs):
        if time.monotonic() > stop_at:
            break
        began = time.perf_counter()
        server = EtcdLite().start()
        try:
            channel = _first_put(server.endpoint, began + 10)
            start_put.append(time.perf_counter() - began)
            channel.close()
        finally:
            began = time.perf_counter()
            server.stop()
            stop.append(time.perf_counter() - began)
    return {"etcdlite start→first Put": start_put, "etcdlite stop": stop}


def measure_reset(runs: int, stop_at: float) -> dict[str, list[float]]:
    reset, reset_put = [], []
    with EtcdLite() as server, grpc.insecure_channel(server.endpoint) as channel:
        kv = rpc_pb2_grpc.KVStub(channel)
        lease = rpc_pb2_grpc.LeaseStub(channel)
        watch = rpc_pb2_grpc.WatchStub(channel)
        for _ in range(runs):
            if time.monotonic() > stop_at:
                break
            lease_id = lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60)).ID
            for i in range(100):
                kv.Put(rpc_pb2.PutRequest(key=b"key/%d" % (i % 20), value=b"x" * 64,
                                          lease=lease_id if i % 10 == 0 else 0))
            done = threading.Event()

            def requests():
                yield rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"key/"))
                done.wait(10)

            stream = watch.Watch(requests())
            next(stream)
            began = time.perf_counter()
            server.reset()
            reset.append(time.perf_counter() - began)
            kv.Put(rpc_pb2.PutRequest(key=b"first", value=b"put"))
            reset_put.append(time.perf_counter() - began)
            done.set()
            stream.cancel()
    return {"etcdlite reset": reset, "etcdlite reset→first Put": reset_put}


def measure_etcd(binary: str, runs: int, timeout: float, stop_at: float) -> dict[str, list[float]]:
    start_put, stop = [], []
    for _ in range(runs):
        if time.monotonic() > stop_at:
            break
        data_dir = tempfile.mkdtemp(prefix="etcd-startup-")
        client, peer = _free_port(), _free_port()
        cmd = [binary, "--name", "default", "--data-dir", data_dir,
               "--listen-client-urls", f"http://127.0.0.1:{client}",
               "--advertise-client-urls", f"http://127.0.0.1:{client}",
               "--listen-peer-urls", f"http://127.0.0.1:{peer}",
               "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
               "--initial-cluster", f"default=http://127.0.0.1:{peer}",
               "--log-level", "error", "--logger", "zap"]
        began = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            channel = _first_put(f"127.0.0.1:{client}", began + timeout)
            start_put.append(time.perf_counter() - began)
            channel.close()
        except grpc.RpcError:
            print(f"  etcd did not serve a Put within {timeout}s; run skipped", file=sys.stderr)
        finally:
            began = time.perf_counter()
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            stop.append(time.perf_counter() - began)
            shutil.rmtree(data_dir, ignore_errors=True)
    return {"etcd start→first Put": start_put, "etcd stop": stop}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summarize(samples: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    return {name: {"runs": len(v), "p50_ms": statistics.median(v) * 1000, "p99_ms": _percentile(v, 0.99) * 1000,
                   "min_ms": min(v) * 1000, "max_ms": max(v) * 1000}
            for name, v in samples.items() if v}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100, help="etcdlite start/stop and reset runs")
    parser.add_argument("--etcd-runs", type=int, default=10, help="real etcd runs (0: skip)")
    parser.add_argument("--etcd-timeout", type=float, default=20.0)
    parser.add_argument("--max-seconds", type=float, default=600.0)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    stop_at = time.monotonic() + args.max_seconds

    # one warm-up of each path (first-use costs of grpc and the loop are not per-server costs)
    measure_etcdlite(1, stop_at)
    measure_reset(1, stop_at)

    samples = {}
    samples.update(measure_etcdlite(args.runs, stop_at))
    samples.update(measure_reset(args.runs, stop_at))
    binary = os.environ.get("ETCD_BIN") or shutil.which("etcd") or "/usr/bin/etcd"
    if args.etcd_runs and os.path.exists(binary):
        samples.update(measure_etcd(binary, args.etcd_runs, args.etcd_timeout, stop_at))
    elif args.etcd_runs:
        print(f"real etcd not found ({binary}); skipped", file=sys.stderr)

    summary = summarize(samples)
    print(f"| measurement | runs | p50 ms | p99 ms | min ms | max ms |")
    print(f"|---|---|---|---|---|---|")
    for name, s in summary.items():
        print(f"| {name} | {s['runs']} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} | {s['min_ms']:.1f} | {s['max_ms']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps({
            "python": sys.version.split()[0], "grpcio": grpc.__version__, "machine": platform.machine(),
            "cpus": os.cpu_count(), "summary": summary}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
