#!/usr/bin/env python3
"""Memory per stored revision and restart time: etcdlite on LMDB beside real etcd, same load.

Each target gets a fresh data dir and the same writes: ``--keys`` keys (16 bytes), each put
``--revisions`` times with ``--value-size`` random bytes, in Txns of 128 puts (etcd's
``--max-txn-ops``) from 4 concurrent callers. Then, per target:

  load RSS      VmRSS of the server after the writes (and a full count Range)
  restart       SIGTERM, wait for the exit, start again on the same data dir: seconds from
                the new process's start until its first answered (linearizable) Range
  restart RSS   VmRSS after that first read, and after one Range touching every key
                (count-only, then a keys-only read of all keys)

  python benchmarks/memory_restart.py                                  # 200k keys x 2, etcdlite, etcd 3.4.23
  python benchmarks/memory_restart.py --keys 1000000 --targets etcdlite --json out.json

Targets: ``etcdlite`` (this checkout, LMDB), ``etcd`` (/usr/bin/etcd, 3.4.23), ``etcd35``
(``$ETCD35_DIR/etcd``, default /opt/etcd-3.5.1). Every server is started here on free ports and
ended by its PID in a ``finally``; the whole run is bounded by ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import time

import grpc

from servers import start, stop, wait_ready
from etcdlite.proto import rpc_pb2, rpc_pb2_grpc

TXN_OPS = 128


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def rss_split_mib(pid: int) -> dict:
    """VmRSS as the kernel splits it: anonymous memory (the heap) and mapped file pages (LMDB's,
    bbolt's mmap), which the page cache holds anyway and the kernel may take back."""
    split = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name = line.split(":")[0]
            if name in ("RssAnon", "RssFile", "RssShmem"):
                split[name] = round(int(line.split()[1]) / 1024, 1)
    return split


#: etcd's default quota (2 GiB) would end the larger loads with NOSPACE
_ETCD_FLAGS = ["--quota-backend-bytes", str(8 << 30)]


def start_target(target: str, data: str) -> tuple[subprocess.Popen, str]:
    return start(target, data, _ETCD_FLAGS if target in ("etcd", "etcd35") else None)


def write(endpoint: str, keys: int, revisions: int, value_size: int, deadline: float) -> None:
    """Every key ``revisions`` times, in Txns of TXN_OPS puts from 4 threads."""
    batches = [(r, start) for r in range(revisions) for start in range(0, keys, TXN_OPS)]
    lock = threading.Lock()
    failures: list[BaseException] = []

    def worker() -> None:
        with grpc.insecure_channel(endpoint, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
            kv = rpc_pb2_grpc.KVStub(channel)
            while time.monotonic() < deadline:
                with lock:
                    if not batches or failures:
                        return
                    _, first = batches.pop(0)
                puts = [rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"k%015d" % i, value=os.urandom(value_size)))
                        for i in range(first, min(first + TXN_OPS, keys))]
                try:
                    kv.Txn(rpc_pb2.TxnRequest(success=puts), timeout=60)
                except grpc.RpcError as exc:
                    failures.append(exc)
                    return

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise RuntimeError(f"a write failed: {failures[0]}")
    if batches:
        raise RuntimeError("the writes did not finish before --max-seconds")


def read_all(endpoint: str) -> int:
    with grpc.insecure_channel(endpoint, options=[("grpc.max_receive_message_length", -1)]) as channel:
        kv = rpc_pb2_grpc.KVStub(channel)
        count = kv.Range(rpc_pb2.RangeRequest(key=b"\0", range_end=b"\0", count_only=True), timeout=120).count
        kv.Range(rpc_pb2.RangeRequest(key=b"\0", range_end=b"\0", keys_only=True), timeout=120)
        return count


def measure(target: str, args: argparse.Namespace, deadline: float) -> dict:
    root = tempfile.mkdtemp(prefix=f"memrestart-{target}-")
    data = os.path.join(root, "data")
    result: dict = {"target": target}
    proc = None
    try:
        proc, endpoint = start_target(target, data)
        wait_ready(endpoint, proc, 60)
        started = time.monotonic()
        write(endpoint, args.keys, args.revisions, args.value_size, deadline)
        result["write_s"] = round(time.monotonic() - started, 1)
        result["keys_counted"] = read_all(endpoint)
        result["load_rss_mib"] = round(rss_mib(proc.pid), 1)
        result["load_rss_split_mib"] = rss_split_mib(proc.pid)
        stop(proc, 60)
        proc = None
        started = time.monotonic()
        proc, endpoint = start_target(target, data)
        wait_ready(endpoint, proc, max(1.0, deadline - time.monotonic()))
        result["restart_s"] = round(time.monotonic() - started, 2)
        result["restart_rss_mib"] = round(rss_mib(proc.pid), 1)
        result["restart_rss_split_mib"] = rss_split_mib(proc.pid)
        result["keys_after_restart"] = read_all(endpoint)
        result["restart_read_all_rss_mib"] = round(rss_mib(proc.pid), 1)
        result["restart_read_all_rss_split_mib"] = rss_split_mib(proc.pid)
        revisions = args.keys * args.revisions
        result["load_bytes_per_revision"] = round(result["load_rss_mib"] * 2**20 / revisions)
        result["data_dir_mib"] = round(sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(data) for f in fs) / 2**20, 1)
    finally:
        if proc is not None:
            stop(proc, 60)
        shutil.rmtree(root, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="etcdlite,etcd")
    parser.add_argument("--keys", type=int, default=200_000)
    parser.add_argument("--revisions", type=int, default=2)
    parser.add_argument("--value-size", type=int, default=100)
    parser.add_argument("--max-seconds", type=float, default=1800)
    parser.add_argument("--json")
    args = parser.parse_args()
    deadline = time.monotonic() + args.max_seconds
    results = [measure(target, args, deadline) for target in args.targets.split(",")]
    report = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
              "params": vars(args), "results": results}
    print("| target | keys × revisions | load RSS MiB | bytes/revision | restart to first read s | RSS after restart MiB | after reading all MiB | data dir MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['target']} | {args.keys:,} × {args.revisions} | {r['load_rss_mib']} | {r['load_bytes_per_revision']} | "
              f"{r['restart_s']} | {r['restart_rss_mib']} | {r['restart_read_all_rss_mib']} | {r['data_dir_mib']} |")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=1)


if __name__ == "__main__":
    main()
