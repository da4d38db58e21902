#!/usr/bin/env python3
"""``etcdctl check perf`` (etcdctl 3.5.1) against etcd 3.5.1 and etcdlite, one after the other.

Each target gets a fresh data dir and ``--load`` runs in turn (m: 200 clients asking 1,000 Puts/s,
passes at 90 %; l: 500 clients asking 8,000/s); the table shows etcdctl's verdicts and numbers.

  python benchmarks/check_perf.py                         # --loads m,l --targets etcd35,etcdlite
  python benchmarks/check_perf.py --loads m --targets etcdlite,etcdlite-memory --json out.json

Servers are started here on free 127.0.0.1 ports and ended by PID in a ``finally``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from servers import start, stop, wait_ready

ETCD35 = os.environ.get("ETCD35_DIR", "/opt/etcd-3.5.1")


def check(endpoint: str, load: str) -> dict:
    out = subprocess.run([os.path.join(ETCD35, "etcdctl"), "--endpoints", endpoint, "check", "perf",
                          f"--load={load}"], capture_output=True, text=True, timeout=240)
    text = out.stdout + out.stderr
    result = {"load": load, "exit": out.returncode, "passed": out.returncode == 0 and "FAIL" not in text}
    m = re.search(r"(\d+) writes/s", text)
    if m:
        result["writes_per_s"] = int(m.group(1))
    m = re.search(r"Slowest request took (?:too long: )?([\d.]+)s", text)
    if m:
        result["slowest_s"] = float(m.group(1))
    m = re.search(r"Stddev (?:is|too high:) ([\d.]+)s", text)
    if m:
        result["stddev_s"] = float(m.group(1))
    result["lines"] = [line for line in text.splitlines() if "PASS" in line or "FAIL" in line]
    result["tail"] = text.splitlines()[-12:]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="etcd35,etcdlite")
    parser.add_argument("--loads", default="m,l")
    parser.add_argument("--json")
    args = parser.parse_args()
    results = []
    for load in args.loads.split(","):
        for target in args.targets.split(","):
            root = tempfile.mkdtemp(prefix=f"checkperf-{target}-")
            proc = None
            try:
                proc, endpoint = start(target, os.path.join(root, "data"))
                wait_ready(endpoint, proc)
                result = check(endpoint, load)
                result["target"] = target
                results.append(result)
                print(json.dumps(result), flush=True)
            finally:
                if proc is not None:
                    stop(proc, 30)
                shutil.rmtree(root, ignore_errors=True)
    print("| load | target | verdict | writes/s | slowest request s | stddev s |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['load']} | {r['target']} | {'PASS' if r['passed'] else 'FAIL'} | {r.get('writes_per_s', '—')} | "
              f"{r.get('slowest_s', '—')} | {r.get('stddev_s', '—')} |")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "results": results}, out, indent=1)


if __name__ == "__main__":
    main()
