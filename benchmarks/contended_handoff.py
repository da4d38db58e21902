"""Contended Lock and Election hand-offs, etcdlite beside real etcd in one run.

``-clients`` contenders, each on its own connection, loop Lock → Unlock (or Campaign → Resign)
on one name with the Go load generator (``load/bin/etcdload -op lock|election``; build it with
``load/build.sh``). Each round starts a fresh server per target, targets interleaved round by
round so that a slow phase of the disk hits them alike. A hand-off is the holder's release
sent → the next holder's acquisition answered.

    python benchmarks/contended_handoff.py [--targets etcd,etcdlite,etcdlite-memory]
        [--contenders 8] [--seconds 8] [--rounds 3] [--json results/contended-handoff.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time

from servers import server

LOAD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "load", "bin", "etcdload")


def run_once(kind: str, op: str, contenders: int, seconds: float) -> dict:
    with server(kind) as (endpoint, _proc):
        out = subprocess.run([LOAD, "-endpoint", endpoint, "-op", op, "-clients", str(contenders),
                              "-duration", f"{seconds}s", "-warmup", "1s", "-prefix", f"bench-{op}"],
                             capture_output=True, text=True, timeout=seconds + 60, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["errors"]:
        raise RuntimeError(f"{kind} {op}: {result['first_error']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", default="etcd,etcdlite,etcdlite-memory")
    parser.add_argument("--ops", default="lock,election")
    parser.add_argument("--contenders", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    if not os.path.exists(LOAD):
        raise SystemExit(f"{LOAD} is missing: run benchmarks/load/build.sh")
    targets, ops = args.targets.split(","), args.ops.split(",")
    runs: dict[str, dict[str, list[dict]]] = {op: {t: [] for t in targets} for op in ops}
    for _ in range(args.rounds):
        for op in ops:
            for target in targets:
                runs[op][target].append(run_once(target, op, args.contenders, args.seconds))

    print(f"| op | target | acquisitions/s (median of {args.rounds}) | range | × etcd | "
          "hand-off p50 / p99 ms |")
    print("|---|---|---|---|---|---|")
    summary: dict[str, dict[str, dict]] = {}
    for op in ops:
        baseline = None
        summary[op] = {}
        for target in targets:
            rates = [r["acquisitions_per_s"] for r in runs[op][target]]
            median = statistics.median(rates)
            if target == "etcd":
                baseline = median
            p50 = statistics.median(r["handoff_p50_ms"] for r in runs[op][target])
            p99 = max(r["handoff_p99_ms"] for r in runs[op][target])
            ratio = round(median / baseline, 1) if baseline else None
            summary[op][target] = {"acquisitions_per_s": round(median), "min": round(min(rates)),
                                   "max": round(max(rates)), "x_etcd": ratio,
                                   "handoff_p50_ms": round(p50, 2), "handoff_p99_ms_worst": round(p99, 2)}
            print(f"| {op} | {target} | {median:,.0f} | {min(rates):,.0f}–{max(rates):,.0f} | "
                  f"{ratio if ratio is not None else '—'} | {p50:.2f} / {p99:.2f} |")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                       "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                       "params": vars(args), "summary": summary, "runs": runs}, out, indent=1)


if __name__ == "__main__":
    main()
