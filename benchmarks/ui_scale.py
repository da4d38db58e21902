#!/usr/bin/env python3
"""How fast the browser view answers on a big server: 100k keys (in folders of 1,000 and one flat
folder of 10,000), 1k watchers on 10 streams, 200 leases, a lock with 50 waiters; the time of each
/ui/api endpoint (median and max of --calls) and of a full page load in headless Chromium until
the panels are filled.

  python benchmarks/ui_scale.py [--keys 100000] [--watchers 1000] [--calls 20]
"""
from __future__ import annotations

import argparse
import base64
import json
import shutil
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import grpc  # noqa: E402

from etcdlite import EtcdLite  # noqa: E402
from etcdlite.proto import rpc_pb2, rpc_pb2_grpc, v3lock_pb2, v3lock_pb2_grpc  # noqa: E402


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def fill(channel, keys: int) -> None:
    kv = rpc_pb2_grpc.KVStub(channel)
    flat = min(10_000, keys // 10)
    names = [b"/flat/%06d" % i for i in range(flat)]
    names += [b"/app/%03d/%04d" % (i // 1000, i % 1000) for i in range(keys - flat)]
    for start in range(0, len(names), 128):
        kv.Txn(rpc_pb2.TxnRequest(success=[rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(
            key=name, value=b'{"n": 1}')) for name in names[start:start + 128]]))


def timed(url: str, calls: int) -> dict:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=30) as answer:
            size = len(answer.read())
        times.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(times), 2), "max_ms": round(max(times), 2),
            "bytes": size}


def page_load(url: str) -> float | None:
    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if chromium is None:
        return None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking"])
        page = browser.new_page()
        started = time.perf_counter()
        page.goto(url + "/ui/")
        page.locator(".lock .holder").wait_for(timeout=60000)
        page.locator("#keys li.folder").first.wait_for(timeout=60000)
        elapsed = (time.perf_counter() - started) * 1000
        browser.close()
    return round(elapsed, 1)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--keys", type=int, default=100_000)
    p.add_argument("--watchers", type=int, default=1000)
    p.add_argument("--calls", type=int, default=20)
    args = p.parse_args()
    with EtcdLite() as server, grpc.insecure_channel(server.endpoint) as channel:
        t0 = time.perf_counter()
        fill(channel, args.keys)
        print(f"{args.keys} keys in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        watch = rpc_pb2_grpc.WatchStub(channel)
        streams = []
        per_stream = max(1, args.watchers // 10)
        for s in range(10):
            requests = [rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(
                key=b"/app/%03d/" % (i % 100), range_end=b"/app/%03d0" % (i % 100)))
                for i in range(s * per_stream, (s + 1) * per_stream)]
            responses = watch.Watch(iter(requests))
            for _ in range(per_stream):
                next(responses)
            streams.append(responses)
        lease = rpc_pb2_grpc.LeaseStub(channel)
        ids = [lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=600)).ID for _ in range(200)]
        lock = v3lock_pb2_grpc.LockStub(channel)
        lock.Lock(v3lock_pb2.LockRequest(name=b"jobs", lease=ids[0]))
        waiters = [threading.Thread(target=lambda i=i: lock.Lock(
            v3lock_pb2.LockRequest(name=b"jobs", lease=i), timeout=120), daemon=True) for i in ids[1:51]]
        for thread in waiters:
            thread.start()
        time.sleep(2)
        base = server.url + "/ui/api/"
        endpoints = {
            "status": "status", "keys (root)": "keys", "keys (/app/, 100 folders)": "keys?prefix=" + b64(b"/app/"),
            "keys (/flat/, first page of 200)": "keys?prefix=" + b64(b"/flat/"),
            "keys (/app/050/, 1000 keys, page of 200)": "keys?prefix=" + b64(b"/app/050/"),
            "key (history)": "key?key=" + b64(b"/app/050/0500"), "leases": "leases", "locks": "locks",
            "elections": "elections", "watchers": "watchers"}
        results = {name: timed(base + path, args.calls) for name, path in endpoints.items()}
        results["page load in Chromium (ms)"] = page_load(server.url)
        for responses in streams:
            responses.cancel()
        for lease_id in ids:
            lease.LeaseRevoke(rpc_pb2.LeaseRevokeRequest(ID=lease_id))
    print(json.dumps(results, indent=1))
    print("\n| endpoint | median ms | max ms | bytes |\n|---|---|---|---|")
    for name, r in results.items():
        if isinstance(r, dict):
            print(f"| {name} | {r['median_ms']} | {r['max_ms']} | {r['bytes']:,} |")
    print(f"| full page load (Chromium) | {results['page load in Chromium (ms)']} | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
