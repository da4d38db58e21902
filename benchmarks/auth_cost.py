#!/usr/bin/env python3
"""The cost of auth: Put and Range throughput with auth enabled vs disabled, side by side for
etcdlite (in-memory and LMDB), real etcd 3.4 and 3.5, and the empty-answer grpcio ceiling.

Every server runs twice, one instance with auth off and one with auth on, all up at once; runs
alternate between them (``run_kv.py --interleave`` style, the order reversed every repeat), so drift
on this shared machine hits both sides alike. Before the load, each "+auth" instance gets, over raw
gRPC (etcdlite's own etcdserverpb stubs):

* user ``root`` with role ``root``;
* user ``bench`` with 3 roles: ``bench-a`` READWRITE on the prefix ``k`` (``[k, l)``, which holds
  every key the load uses), plus, spread over the three roles, 50 single-key and 10 prefix
  permissions (READ, WRITE and READWRITE) on keys before and after ``k``, so that the permission
  check searches real merged ranges;
* AuthEnable; then, before every load run (not measured), Authenticate as ``bench``: the token
  goes to ``etcdload -token``, which sends it as gRPC metadata ``token`` on every call.

A sanity check after the set-up: a Put without a token must be refused, one with it accepted.
The empty-answer server is measured without and with the ``token`` header (it ignores it): the
cost of the extra metadata alone. All servers use ``--bcrypt-cost 4`` (only Authenticate hashes).

  python benchmarks/auth_cost.py                           # 64 clients, 5 repeats, ~12 minutes
  python benchmarks/auth_cost.py --clients 1,16 --repeat 2 --duration 3

Run it with the interpreter the Python servers should use (e.g. a venv with grpcio 1.83.2; its
etcdlite must be this checkout). Writes results/auth-cost-<timestamp>.json and prints markdown.
"""
from __future__ import annotations

import argparse
import copy
import datetime as _dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

import grpc

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import run_kv  # noqa: E402
from run_kv import Target  # noqa: E402

from etcdlite.proto import auth_pb2, rpc_pb2, rpc_pb2_grpc  # noqa: E402

ROOT_PASSWORD = "rootpw"
BENCH_USER, BENCH_PASSWORD = "bench", "benchpw"
PERMITTED_PREFIX = (b"k", b"l")  # etcdload's keys are "k<digits>" padded to -key-size
Perm = auth_pb2.Permission


def permissions() -> dict[str, list[Perm]]:
    """The roles of ``bench``: one READWRITE prefix covering the load's keys, and 50 single-key and
    10 prefix permissions elsewhere (before and after ``k``)."""
    roles: dict[str, list[Perm]] = {"bench-a": [], "bench-b": [], "bench-c": []}
    names = list(roles)
    roles["bench-a"].append(Perm(permType=Perm.READWRITE, key=PERMITTED_PREFIX[0],
                                 range_end=PERMITTED_PREFIX[1]))
    kinds = (Perm.READ, Perm.WRITE, Perm.READWRITE)
    letters = "abcdefghijmnopqrstuvwxyz"  # not k
    for i in range(50):
        key = f"{letters[i % len(letters)]}/single/{i:02d}".encode()
        roles[names[i % 3]].append(Perm(permType=kinds[i % 3], key=key))
    for i in range(10):
        prefix = f"{letters[(i * 5) % len(letters)]}/prefix{i:02d}/".encode()
        end = prefix[:-1] + bytes([prefix[-1] + 1])
        roles[names[i % 3]].append(Perm(permType=kinds[(i + 1) % 3], key=prefix, range_end=end))
    return roles


def setup_auth(endpoint: str) -> dict:
    """Users, roles and permissions, then AuthEnable; returns a summary."""
    roles = permissions()
    with grpc.insecure_channel(endpoint) as channel:
        auth = rpc_pb2_grpc.AuthStub(channel)
        auth.UserAdd(rpc_pb2.AuthUserAddRequest(name="root", password=ROOT_PASSWORD), timeout=10)
        auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name="root"), timeout=10)
        auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user="root", role="root"), timeout=10)
        auth.UserAdd(rpc_pb2.AuthUserAddRequest(name=BENCH_USER, password=BENCH_PASSWORD), timeout=10)
        for role, perms in roles.items():
            auth.RoleAdd(rpc_pb2.AuthRoleAddRequest(name=role), timeout=10)
            for perm in perms:
                auth.RoleGrantPermission(rpc_pb2.AuthRoleGrantPermissionRequest(name=role, perm=perm),
                                         timeout=10)
            auth.UserGrantRole(rpc_pb2.AuthUserGrantRoleRequest(user=BENCH_USER, role=role), timeout=10)
        auth.AuthEnable(rpc_pb2.AuthEnableRequest(), timeout=10)
    token = authenticate(endpoint)
    with grpc.insecure_channel(endpoint) as channel:  # auth must really be on, and the token work
        kv = rpc_pb2_grpc.KVStub(channel)
        try:
            kv.Put(rpc_pb2.PutRequest(key=b"k-check", value=b"x"), timeout=10)
            raise RuntimeError(f"{endpoint}: a Put without a token was accepted: auth is off")
        except grpc.RpcError as exc:
            refused = f"{exc.code().name}: {exc.details()}"
        kv.Put(rpc_pb2.PutRequest(key=b"k-check", value=b"x"), metadata=(("token", token),), timeout=10)
        try:
            kv.Put(rpc_pb2.PutRequest(key=b"zz-outside", value=b"x"), metadata=(("token", token),),
                   timeout=10)
            raise RuntimeError(f"{endpoint}: a Put outside bench's permissions was accepted")
        except grpc.RpcError as exc:
            denied = f"{exc.code().name}: {exc.details()}"
    n = sum(len(p) for p in roles.values())
    return {"roles": {r: len(p) for r, p in roles.items()}, "permissions": n,
            "without_token": refused, "outside_prefix": denied}


def authenticate(endpoint: str) -> str:
    with grpc.insecure_channel(endpoint) as channel:
        auth = rpc_pb2_grpc.AuthStub(channel)
        return auth.Authenticate(rpc_pb2.AuthenticateRequest(name=BENCH_USER, password=BENCH_PASSWORD),
                                 timeout=10).token


def build_targets(args) -> list[tuple[Target, argparse.Namespace, bool]]:
    """(target, the run_kv options it starts with, auth on?) for every instance."""
    out = []
    lite = (f"{args.python} -m etcdlite --listen-client-urls http://127.0.0.1:{{port}} "
            f"--data-dir {{datadir}} --log-level error")  # bcrypt cost: ETCD_BCRYPT_COST
    for kind in args.targets.split(","):
        kind = kind.strip()
        for auth in (False, True):
            ns = copy.copy(args)
            name = kind + ("+auth" if auth else "")
            if kind in ("etcd-3.4", "etcd-3.5"):
                ns.etcd_bin = args.etcd34 if kind == "etcd-3.4" else args.etcd35
                t = Target(kind, name, "etcd")
            elif kind in ("etcdlite-mem", "etcdlite-lmdb"):
                ns.etcdlite_cmd = lite
                ns.etcdlite_no_datadir = kind == "etcdlite-mem"
                t = Target(kind, name, "etcdlite")
            elif kind == "empty-aio":
                name = kind + ("+token" if auth else "")
                t = Target(kind, name, "empty", mode="aio", python=args.python,
                           grpcio=run_kv.grpc_version_of(args.python))
                t.meta["workers"] = args.sync_workers
            else:
                raise SystemExit(f"unknown target {kind!r}")
            out.append((t, ns, auth))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 1)[1])
    p.add_argument("--targets", default="etcdlite-mem,etcdlite-lmdb,etcd-3.4,etcd-3.5,empty-aio",
                   help="each runs twice (auth off / on): etcdlite-mem, etcdlite-lmdb, etcd-3.4, "
                        "etcd-3.5, empty-aio (off / with a token header)")
    p.add_argument("--python", default=sys.executable, help="interpreter of the Python servers")
    p.add_argument("--etcd34", default="/usr/bin/etcd")
    p.add_argument("--etcd35", default="/opt/etcd-3.5.1/etcd")
    p.add_argument("--ops", default="put,range")
    p.add_argument("--clients", default="64")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--duration", type=float, default=4.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--max-conns", type=int, default=4)
    p.add_argument("--wait-quiet", type=float, default=5.0)
    p.add_argument("--max-other", type=float, default=0.25,
                   help="contamination threshold in cores (the idle sibling servers count too)")
    p.add_argument("--retries", type=int, default=1)
    p.add_argument("--max-seconds", type=float, default=1500.0)
    p.add_argument("--out", default="")
    args = p.parse_args()
    # what run_kv.start / run_load read
    args.conns, args.key_size, args.val_size, args.keyspace = 0, 8, 8, 1000
    args.transport, args.procs, args.serializable = "h2", 0, False
    args.sync_workers, args.start_timeout, args.data_root = 16, 30.0, None
    args.etcd_bin, args.etcdlite_cmd, args.etcdlite_no_datadir = args.etcd34, "", False

    if not run_kv.LOAD.exists():
        import subprocess
        subprocess.run([str(HERE / "load" / "build.sh")], check=True, timeout=300)
    os.environ["ETCD_BCRYPT_COST"] = "4"  # real etcd reads its flags from ETCD_* too

    instances = build_targets(args)
    targets = [t for t, _, _ in instances]
    ops = [o.strip() for o in args.ops.split(",") if o.strip()]
    clients_list = [int(c) for c in args.clients.split(",") if c.strip()]
    t_start = time.monotonic()
    started = _dt.datetime.now(_dt.timezone.utc)
    report: dict = {
        "date": started.isoformat(timespec="seconds"),
        "what": "auth on vs off (benchmarks/auth_cost.py)",
        "machine": run_kv.machine(args.python),
        "params": {"ops": ops, "clients": clients_list, "duration_s": args.duration,
                   "warmup_s": args.warmup, "repeat": args.repeat, "key_size": args.key_size,
                   "val_size": args.val_size, "keyspace": args.keyspace, "transport": "h2",
                   "max_conns": args.max_conns, "conns": 0, "interleave": True,
                   "wait_quiet": args.wait_quiet, "max_other": args.max_other,
                   "retries": args.retries, "bcrypt_cost": 4,
                   "permitted_prefix": [x.decode() for x in PERMITTED_PREFIX]},
        "baseline": "etcd-3.4", "ceiling": "empty-aio", "targets": [], "cells": {}, "runs": [],
        "auth_setup": {},
    }
    for path in (args.etcd34, args.etcd35):
        try:
            import subprocess
            report["machine"][path] = subprocess.run([path, "--version"], capture_output=True,
                                                     text=True, timeout=10).stdout.split("\n")[0]
        except OSError:
            pass

    def over_budget() -> bool:
        return time.monotonic() - t_start > args.max_seconds

    live: list[Target] = []
    try:
        for t, ns, auth in instances:
            print(f"starting {t.name} ...", file=sys.stderr, flush=True)
            run_kv.start(t, ns)
            live.append(t)
            if auth and t.kind != "empty":
                report["auth_setup"][t.name] = setup_auth(t.endpoint)
        for rep in range(args.repeat):
            for op in ops:
                for c in clients_list:
                    order = instances if rep % 2 == 0 else instances[::-1]
                    for t, ns, auth in order:
                        if over_budget():
                            break
                        for attempt in range(1 + args.retries):
                            token = (authenticate(t.endpoint) if t.kind != "empty" else "x" * 16 + ".7") \
                                if auth else None
                            t.meta["load_args"] = ["-token", token] if token else []
                            r = run_kv.run_load(t, op, c, ns)
                            r["target"], r["repeat"] = t.name, rep
                            r["contaminated"] = (r.get("other_cores") or 0.0) > args.max_other
                            report["runs"].append(r)
                            if not r["contaminated"] or attempt == args.retries or over_budget():
                                break
                        tag = (f"{r['rps']:,.0f} rps p50={r['p50_ms']:.2f} p99={r['p99_ms']:.2f} ms "
                               f"other={r.get('other_cores')}" if "rps" in r else f"ERROR {r.get('error')}")
                        print(f"  [{rep}] {t.name:<20} {op:<5} c={c:<3} {tag}"
                              + (f" errors={r['errors']} ({r.get('first_error')})" if r.get("errors") else ""),
                              file=sys.stderr, flush=True)
    finally:
        for t in live:
            t.meta["peak_rss_kb"] = t.hwm_kb()
            run_kv.stop(t)
        for t in targets:
            if t.tmpdir:
                import shutil
                shutil.rmtree(t.tmpdir, ignore_errors=True)

    for t in targets:
        report["targets"].append({"name": t.name, "kind": t.kind, "mode": t.mode,
                                  "grpcio": t.grpcio, "endpoint": t.endpoint,
                                  "peak_rss_kb": t.meta.get("peak_rss_kb"), "cmd": t.meta.get("cmd")})
        cells: dict = {}
        for op in ops:
            for c in clients_list:
                runs = [r for r in report["runs"] if r.get("target") == t.name
                        and r.get("op") == op and r.get("clients") == c]
                m = run_kv.median_run(runs)
                if m:
                    m = dict(m)
                    m["rps_all"] = [round(r["rps"]) for r in runs if "rps" in r and not r.get("contaminated")]
                    m["rps_discarded"] = [round(r["rps"]) for r in runs if "rps" in r and r.get("contaminated")]
                    cells.setdefault(op, {})[str(c)] = m
        report["cells"][t.name] = cells
    report["ratios"] = ratios(report, instances, ops, clients_list)
    report["elapsed_s"] = round(time.monotonic() - t_start, 1)
    report["machine"]["loadavg_after"] = open("/proc/loadavg").read().split()[:3]

    run_kv.RESULTS.mkdir(parents=True, exist_ok=True)
    out = Path(args.out) if args.out else \
        run_kv.RESULTS / f"auth-cost-{started.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(ratio_table(report) + "\n\n" + run_kv.markdown(report, "etcd-3.4", "empty-aio"))
    print(f"\nresults: {out}", file=sys.stderr)
    return 0


def _last_run(runs: list[dict], name: str, op: str, c: int, rep: int, clean_only: bool) -> dict | None:
    picked = [r for r in runs if r.get("target") == name and r.get("op") == op
              and r.get("clients") == c and r.get("repeat") == rep and "rps" in r
              and not (clean_only and r.get("contaminated"))]
    return picked[-1] if picked else None


def ratios(report: dict, instances, ops, clients_list) -> list[dict]:
    """Per base target, op and clients: auth-on / auth-off rps of the median runs, and the median
    of the per-repeat paired ratios (both instances measured in the same round)."""
    out = []
    names = [t.name for t, _, auth in instances if not auth]
    on_name = {t.name: n.name for (t, _, a), (n, _, b) in zip(instances[::2], instances[1::2])}
    for base in names:
        for op in ops:
            for c in clients_list:
                off = report["cells"].get(base, {}).get(op, {}).get(str(c))
                on = report["cells"].get(on_name[base], {}).get(op, {}).get(str(c))
                if not off or not on:
                    continue
                paired, paired_clean = [], True
                for clean_only in (True, False):  # rounds where both runs are clean, else all
                    for rep in range(report["params"]["repeat"]):
                        a = _last_run(report["runs"], base, op, c, rep, clean_only)
                        b = _last_run(report["runs"], on_name[base], op, c, rep, clean_only)
                        if a and b and a["rps"]:
                            paired.append(round(b["rps"] / a["rps"], 3))
                    if paired:
                        paired_clean = clean_only
                        break
                us_off, us_on = run_kv.us_per_call(off), run_kv.us_per_call(on)
                out.append({"target": base, "auth_target": on_name[base], "op": op, "clients": c,
                            "rps_off": round(off["rps"]), "rps_on": round(on["rps"]),
                            "ratio": round(on["rps"] / off["rps"], 3),
                            "paired_ratios": paired,
                            "paired_median": statistics.median(paired) if paired else None,
                            "paired_from_clean_runs": paired_clean,
                            "p50_off": off["p50_ms"], "p99_off": off["p99_ms"],
                            "p50_on": on["p50_ms"], "p99_on": on["p99_ms"],
                            "errors_on": on.get("errors", 0), "errors_off": off.get("errors", 0),
                            "server_us_off": None if us_off is None else round(us_off),
                            "server_us_on": None if us_on is None else round(us_on)})
    return out


def ratio_table(report: dict) -> str:
    lines = ["Auth on vs off (median rps of the clean repeats; ratio = on/off of those medians; "
             "paired = median of the per-round on/off ratios; p50/p99 ms):", "",
             "| target | op | clients | off rps | on rps | on/off | paired | cost | off p50/p99 | "
             "on p50/p99 | server µs/call off → on | errors on |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["ratios"]:
        paired = r["paired_median"]
        lines.append(
            f"| {r['target']} | {r['op']} | {r['clients']} | {r['rps_off']:,} | {r['rps_on']:,} | "
            f"{r['ratio']:.3f} | {'—' if paired is None else f'{paired:.3f}'} | "
            f"{(1 - (paired if paired is not None else r['ratio'])) * 100:+.1f} % | "
            f"{r['p50_off']:.2f} / {r['p99_off']:.2f} | {r['p50_on']:.2f} / {r['p99_on']:.2f} | "
            f"{r['server_us_off']} → {r['server_us_on']} | {r['errors_on']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
