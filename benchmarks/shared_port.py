#!/usr/bin/env python3
"""The client port, side by side in one run: (1) the cost of HTTP and gRPC sharing the port, to
gRPC — the same etcdlite twice, once with the shared port (the default: the front thread forwards
gRPC connections to grpc core over a unix socket, see server/http/front.py) and once with a
gRPC-only client port (``--listen-client-http-urls`` moves HTTP to a port of its own, so grpc core
listens on the client port itself); (2) the JSON gateway's Put and Range throughput (etcdload
``-transport http``: Go's HTTP/1.1 client, keep-alive) against real etcd 3.4.23's and 3.5.1's
gateways. 64 clients, in memory and on LMDB, with the empty-answer grpcio server as gRPC ceiling.

All servers are up at once; each round runs every instance once, in a fresh random order, and the
shared/gRPC-only ratio is taken within the round (paired), so drift on a shared machine hits both
sides alike. Runs during which other processes used more than --max-other cores are retried and
left out. The report gives the median of the paired ratios and their spread.

  python benchmarks/shared_port.py                     # 20 rounds, about an hour
  python benchmarks/shared_port.py --rounds 6 --storage memory

Writes results/shared-port-<timestamp>.json and prints markdown.
"""
from __future__ import annotations

import argparse
import copy
import datetime as _dt
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run_kv  # noqa: E402
from run_kv import Target  # noqa: E402

#: --client-port-front -> the port kind's name
SHARED_KIND = {"process": "shared", "thread": "shared-thread"}
SERVER = "{python} -m etcdlite --listen-client-urls http://127.0.0.1:{{port}} --log-level error"


def build(args) -> list[tuple[Target, argparse.Namespace, str, str]]:
    """(target, its namespace, storage, port kind) for every instance."""
    base = argparse.Namespace(
        etcdlite_no_datadir=False, data_root=None, start_timeout=30.0, conns=0,
        max_conns=args.max_conns, duration=args.duration, warmup=args.warmup, key_size=8,
        val_size=8, keyspace=1000, transport="h2", procs=0, serializable=False,
        wait_quiet=args.wait_quiet, sync_workers=16, etcd_bin="/usr/bin/etcd")
    instances = []
    server = SERVER.format(python=args.python)
    for storage in args.storage.split(","):
        fronts = args.fronts.split(",")
        for front, kind in [(front, SHARED_KIND[front]) for front in fronts] + [(None, "grpc-only")]:
            ns = copy.copy(base)
            cmd = server + (" --memory" if storage == "memory" else " --data-dir {datadir}")
            if front:
                cmd += f" --client-port-front {front}"
            if kind == "grpc-only":
                http_port = run_kv.free_port()
                cmd += f" --listen-client-http-urls http://127.0.0.1:{http_port}"
            ns.etcdlite_cmd = cmd
            instances.append((Target("etcdlite", f"etcdlite-{storage}-{kind}", "etcdlite"), ns,
                              storage, kind))
    ceiling = copy.copy(base)
    instances.append((Target("empty-aio", "empty-aio", "empty", mode="aio", python=args.python,
                             grpcio=run_kv.grpc_version_of(args.python)), ceiling, "-", "ceiling"))
    instances[-1][0].meta["workers"] = 16
    for version, binary in (("3.4", args.etcd34), ("3.5", args.etcd35)):
        if binary and os.path.exists(binary) and not args.no_gateway:
            ns = copy.copy(base)
            ns.etcd_bin = binary
            instances.append((Target("etcd", f"etcd-{version}", "etcd"), ns, "-", "etcd"))
    return instances


def gateway_ns(ns: argparse.Namespace) -> argparse.Namespace:
    gateway = copy.copy(ns)
    gateway.transport = "http"
    return gateway


def _median_rps(report: dict, name: str, op: str, via: str) -> float:
    values = [r["rps"] for r in report["runs"] if r["target"] == name and r.get("op") == op
              and r.get("via") == via and "rps" in r and not r["contaminated"]]
    return statistics.median(values) if values else float("nan")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--ops", default="put,range")
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--storage", default="memory,lmdb")
    p.add_argument("--duration", type=float, default=3.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--max-conns", type=int, default=4)
    p.add_argument("--wait-quiet", type=float, default=5.0)
    p.add_argument("--max-other", type=float, default=0.2)
    p.add_argument("--retries", type=int, default=2)
    p.add_argument("--max-seconds", type=float, default=1800.0)
    p.add_argument("--fronts", default="process",
                   help="the shared port's fronts to compare with the gRPC-only port: process,thread")
    p.add_argument("--no-gateway", action="store_true", help="gRPC runs only")
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--etcd34", default="/usr/bin/etcd")
    p.add_argument("--etcd35", default="/opt/etcd-3.5.1/etcd")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="")
    args = p.parse_args()
    if not run_kv.LOAD.exists():
        import subprocess
        subprocess.run([str(HERE / "load" / "build.sh")], check=True, timeout=300)

    instances = build(args)
    ops = [o.strip() for o in args.ops.split(",") if o.strip()]
    rnd = random.Random(args.seed)
    started = _dt.datetime.now(_dt.timezone.utc)
    t0 = time.monotonic()
    report: dict = {
        "date": started.isoformat(timespec="seconds"),
        "what": "gRPC through the shared client port vs a gRPC-only port (benchmarks/shared_port.py)",
        "machine": run_kv.machine(args.python),
        "params": vars(args), "runs": [], "ratios": {}}
    live = []
    try:
        for t, ns, _, _ in instances:
            print(f"starting {t.name} ...", file=sys.stderr, flush=True)
            run_kv.start(t, ns)
            live.append(t)
        for round_ in range(args.rounds):
            for op in ops:
                order = instances[:]
                rnd.shuffle(order)
                results = {}
                runs = [(t, ns, storage, kind, "grpc") for t, ns, storage, kind in order
                        if kind != "etcd"]
                if not args.no_gateway:
                    runs += [(t, gateway_ns(ns), storage, kind, "gateway")
                             for t, ns, storage, kind in order if kind in ("shared", "etcd")]
                rnd.shuffle(runs)
                for t, ns, storage, kind, via in runs:
                    if time.monotonic() - t0 > args.max_seconds:
                        break
                    for attempt in range(1 + args.retries):
                        r = run_kv.run_load(t, op, args.clients, ns)
                        r.update(target=t.name, round=round_, storage=storage, port=kind, via=via,
                                 contaminated=(r.get("other_cores") or 0.0) > args.max_other)
                        report["runs"].append(r)
                        if not r["contaminated"] or attempt == args.retries:
                            break
                    if "rps" in r and not r["contaminated"] and via == "grpc":
                        results[(storage, kind)] = r["rps"]
                    print(f"  [{round_}] {t.name:<26} {via:<7} {op:<5} "
                          + (f"{r['rps']:,.0f} rps p99={r['p99_ms']:.2f} ms other={r.get('other_cores')}"
                             if "rps" in r else f"ERROR {r.get('error')}"), file=sys.stderr, flush=True)
                for storage in args.storage.split(","):
                    direct = results.get((storage, "grpc-only"))
                    for kind in SHARED_KIND.values():
                        shared = results.get((storage, kind))
                        if shared and direct:
                            report["ratios"].setdefault(f"{storage}/{op}/{kind}", []).append(
                                round(shared / direct, 4))
    finally:
        for t in live:
            run_kv.stop(t)
        import shutil
        for t, _, _, _ in instances:
            if t.tmpdir:
                shutil.rmtree(t.tmpdir, ignore_errors=True)

    lines = [f"{args.clients} clients on at most {args.max_conns} connections", "",
             "| storage | call | front | rounds | shared ÷ gRPC-only: median | 25 %–75 % | shared rps | gRPC-only rps | ceiling rps |",
             "|---|---|---|---|---|---|---|---|---|"]
    for key, ratios in sorted(report["ratios"].items()):
        storage, op, kind = key.split("/")
        front = next(f for f, k in SHARED_KIND.items() if k == kind)

        def median_rps(name: str, via: str = "grpc") -> float:
            return _median_rps(report, name, op, via)

        quartiles = statistics.quantiles(ratios, n=4) if len(ratios) >= 2 else [ratios[0]] * 3
        lines.append(f"| {storage} | {op} | {front} | {len(ratios)} | {statistics.median(ratios):.3f} | "
                     f"{quartiles[0]:.3f}–{quartiles[2]:.3f} | "
                     f"{median_rps(f'etcdlite-{storage}-{kind}'):,.0f} | "
                     f"{median_rps(f'etcdlite-{storage}-grpc-only'):,.0f} | {median_rps('empty-aio'):,.0f} |")
    lines += ["", f"| JSON gateway, {args.clients} clients | call | rps | × etcd 3.4.23 | × etcd 3.5.1 |",
              "|---|---|---|---|---|"]
    for op in ([] if args.no_gateway else ops):
        e34, e35 = _median_rps(report, "etcd-3.4", op, "gateway"), _median_rps(report, "etcd-3.5", op, "gateway")
        for name in [f"etcdlite-{s}-shared" for s in args.storage.split(",")] + ["etcd-3.4", "etcd-3.5"]:
            rps = _median_rps(report, name, op, "gateway")
            lines.append(f"| {name.replace('-shared', '')} | {op} | {rps:,.0f} | {rps / e34:.2f} | {rps / e35:.2f} |")
    report["markdown"] = "\n".join(lines)
    out = Path(args.out) if args.out else run_kv.RESULTS / f"shared-port-{started:%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(report, indent=1))
    print(report["markdown"])
    print(f"\nwritten {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
