"""Maintenance/Snapshot under load: what a snapshot of a big store costs the clients meanwhile.

Per target (``--targets``: ``etcdlite-memory`` = ``--memory``, ``etcdlite-lmdb`` = ``--data-dir``
on a temp dir, ``etcd-3.5`` = /opt/etcd-3.5.1/etcd, ``etcd-3.4`` = /usr/bin/etcd), one server:

1. **fill**: ``--keys`` keys (etcdload's key names, ``--value-size``-byte values) in Txns of
   ``--txn-ops`` puts (etcd's ``--max-txn-ops`` default is 128), ``--fill-inflight`` at a time;
2. **steady load**: two etcdload loops at once, Put (``--put-clients``) and linearizable Range
   (``--range-clients``) over the first ``--load-keyspace`` keys, each as back-to-back runs of
   ``--window`` seconds (so each window has its own rps and p50/p99); plus a *probe*: one
   sequential Range every 10 ms from this process, whose every latency is kept (it shows a
   stall to the millisecond);
3. after ``--before`` seconds, ``etcdctl snapshot save`` (ETCDCTL_API=3, etcd 3.5.1's etcdctl),
   timed; the load goes on for ``--after`` seconds after it ends;
4. ``etcdutl snapshot status`` checks the file (its hash, revision, key count).

A window counts as "during" if its measured interval overlaps the snapshot's, "before"/"after"
if it lies wholly before/after it. Server RSS (``VmRSS``) and CPU are sampled every 0.25 s.
Writes ``results/snapshot-under-load-<stamp>.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from servers import REPO, wait_ready, free_port  # noqa: E402

from etcdlite.proto import rpc_pb2, rpc_pb2_grpc  # noqa: E402

ETCD35 = os.environ.get("ETCD35_DIR", "/opt/etcd-3.5.1")
ETCD_BINARIES = {"etcd-3.5": os.path.join(ETCD35, "etcd"), "etcd-3.4": shutil.which("etcd") or "/usr/bin/etcd"}
ETCDCTL = os.path.join(ETCD35, "etcdctl")
ETCDUTL = os.path.join(ETCD35, "etcdutl")
ETCDLOAD = os.path.join(HERE, "load", "bin", "etcdload")


def make_key(i: int, size: int = 8, prefix: str = "k") -> bytes:
    """etcdload's makeKey: the same key names as its ``-keyspace``."""
    s = f"{prefix}{i:0{size}d}"
    if len(s) > size and size >= len(prefix) + 1:
        s = prefix + str(i)
    if len(s) < size:
        s += "_" * (size - len(s))
    return s[-size:].encode()


def proc_sample(pid: int) -> tuple[int | None, float | None]:
    """(VmRSS KiB, CPU seconds incl. waited-for children) of ``pid``."""
    rss = cpu = None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        pass
    return rss, cpu


class Server:
    def __init__(self, kind: str, python: str, pythonpath: str = REPO) -> None:
        self.kind = kind
        self.python = python
        self.pythonpath = pythonpath
        self.data = tempfile.mkdtemp(prefix="bench-snapload-")
        self.endpoint = f"127.0.0.1:{free_port()}"
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        url = f"http://{self.endpoint}"
        if self.kind.startswith("etcd-"):
            peer = f"http://127.0.0.1:{free_port()}"
            return [ETCD_BINARIES[self.kind], "--name", "default", "--data-dir", os.path.join(self.data, "etcd"),
                    "--listen-client-urls", url, "--advertise-client-urls", url,
                    "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                    "--initial-cluster", f"default={peer}", "--log-level", "error",
                    "--quota-backend-bytes", str(8 << 30)]
        storage = ["--memory"] if self.kind == "etcdlite-memory" else ["--data-dir", os.path.join(self.data, "db")]
        return [self.python, "-m", "etcdlite", *storage, "--listen-client-urls", url,
                "--log-level", "error", "--quota-backend-bytes", str(8 << 30)]

    def __enter__(self) -> "Server":
        self.proc = subprocess.Popen(self.command(), cwd=REPO, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=self.pythonpath))
        wait_ready(self.endpoint, self.proc, timeout=60)
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.data, ignore_errors=True)


def fill(endpoint: str, keys: int, value_size: int, txn_ops: int, inflight: int, timeout: float) -> dict:
    value = bytes(random.Random(1).choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(value_size))
    start = time.monotonic()
    deadline = start + timeout
    with grpc.insecure_channel(endpoint, options=[("grpc.max_send_message_length", 16 << 20)]) as channel:
        kv = rpc_pb2_grpc.KVStub(channel)
        pending: list = []
        sent = 0
        revision = 0
        while sent < keys or pending:
            while sent < keys and len(pending) < inflight:
                ops = [rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=make_key(i), value=value))
                       for i in range(sent, min(keys, sent + txn_ops))]
                pending.append(kv.Txn.future(rpc_pb2.TxnRequest(success=ops), timeout=60))
                sent += len(ops)
            revision = max(revision, pending.pop(0).result().header.revision)
            if time.monotonic() > deadline:
                raise RuntimeError(f"fill did not finish in {timeout} s ({sent} of {keys} sent)")
    seconds = time.monotonic() - start
    return {"keys": keys, "seconds": round(seconds, 2), "keys_per_s": round(keys / seconds),
            "txns": -(-keys // txn_ops), "revision": revision}


class Loop(threading.Thread):
    """Back-to-back etcdload runs of ``window`` seconds until ``stop`` is set."""

    def __init__(self, op: str, endpoint: str, args, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.op, self.stop = op, stop
        clients = args.put_clients if op == "put" else args.range_clients
        self.cmd = [ETCDLOAD, "-endpoint", endpoint, "-op", op, "-clients", str(clients),
                    "-conns", str(min(4, clients)), "-duration", f"{args.window}s",
                    "-keyspace", str(args.load_keyspace), "-val-size", str(args.value_size)]
        self.window = args.window
        self.windows: list[dict] = []

    def run(self) -> None:
        while not self.stop.is_set():
            out = subprocess.run(self.cmd, capture_output=True, text=True, timeout=self.window + 60)
            end = time.monotonic()
            try:
                result = json.loads(out.stdout.strip().splitlines()[-1])
            except (IndexError, ValueError):
                result = {"error": out.stderr[-500:]}
            result["t_end"] = end
            result["t_start"] = end - result.get("seconds", self.window)
            self.windows.append(result)


class Probe(threading.Thread):
    """One linearizable Range every 10 ms (sequential); every (time, latency ms) kept."""

    def __init__(self, endpoint: str, keyspace: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.endpoint, self.keyspace, self.stop = endpoint, keyspace, stop
        self.samples: list[tuple[float, float]] = []
        self.errors = 0

    def run(self) -> None:
        rnd = random.Random(2)
        with grpc.insecure_channel(self.endpoint) as channel:
            kv = rpc_pb2_grpc.KVStub(channel)
            while not self.stop.is_set():
                req = rpc_pb2.RangeRequest(key=make_key(rnd.randrange(self.keyspace)))
                t0 = time.monotonic()
                try:
                    kv.Range(req, timeout=30)
                except grpc.RpcError:
                    self.errors += 1
                t1 = time.monotonic()
                self.samples.append((t0, (t1 - t0) * 1000))
                time.sleep(max(0.0, 0.01 - (t1 - t0)))


class Sampler(threading.Thread):
    def __init__(self, pid: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.pid, self.stop = pid, stop
        self.samples: list[tuple[float, int | None, float | None]] = []

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append((time.monotonic(), *proc_sample(self.pid)))
            self.stop.wait(0.25)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def phase_of(t0: float, t1: float, snap: tuple[float, float]) -> str:
    if t1 <= snap[0]:
        return "before"
    if t0 >= snap[1]:
        return "after"
    return "during"


def summarize(loops: dict[str, Loop], probe: Probe, sampler: Sampler, snap: tuple[float, float]) -> dict:
    out: dict = {}
    for phase in ("before", "during", "after"):
        row: dict = {}
        for op, loop in loops.items():
            wins = [w for w in loop.windows if "rps" in w and phase_of(w["t_start"], w["t_end"], snap) == phase]
            calls = sum(w["total"] for w in wins)
            secs = sum(w["seconds"] for w in wins)
            row[op] = {"windows": len(wins), "calls": calls, "errors": sum(w.get("errors", 0) for w in wins),
                       "rps": round(calls / secs) if secs else None,
                       "p50_ms_median": round(statistics.median(w["p50_ms"] for w in wins), 2) if wins else None,
                       "p99_ms_median": round(statistics.median(w["p99_ms"] for w in wins), 2) if wins else None,
                       "p99_ms_worst": round(max(w["p99_ms"] for w in wins), 2) if wins else None,
                       "max_ms": round(max(w["max_ms"] for w in wins), 1) if wins else None}
        lat = [ms for t, ms in probe.samples if phase_of(t, t + ms / 1000, snap) == phase]
        row["probe"] = {"n": len(lat), "p50_ms": round(pct(lat, .5), 2) if lat else None,
                        "p99_ms": round(pct(lat, .99), 2) if lat else None,
                        "max_ms": round(max(lat), 1) if lat else None}
        rows = [s for s in sampler.samples if phase_of(s[0], s[0], snap) == phase and s[1] is not None]
        row["rss_max_mib"] = round(max(s[1] for s in rows) / 1024, 1) if rows else None
        if len(rows) >= 2 and rows[-1][2] is not None and rows[0][2] is not None:
            row["server_cores"] = round((rows[-1][2] - rows[0][2]) / (rows[-1][0] - rows[0][0]), 2)
        out[phase] = row
    return out


def snapshot_status(path: str) -> dict:
    out = subprocess.run([ETCDUTL, "snapshot", "status", path, "-w", "json"], capture_output=True,
                         text=True, timeout=300)
    if out.returncode != 0:
        return {"error": out.stderr.strip()[-500:]}
    return json.loads(out.stdout)


def run_target(kind: str, args) -> dict:
    result: dict = {"target": kind}
    with Server(kind, args.python, args.etcdlite_path or REPO) as server:
        pid = server.proc.pid
        result["rss_empty_mib"] = round((proc_sample(pid)[0] or 0) / 1024, 1)
        result["fill"] = fill(server.endpoint, args.keys, args.value_size, args.txn_ops, args.fill_inflight,
                              args.fill_timeout)
        print(f"[{kind}] filled: {result['fill']}", file=sys.stderr, flush=True)
        result["rss_filled_mib"] = round((proc_sample(pid)[0] or 0) / 1024, 1)
        stop_load, stop_probe = threading.Event(), threading.Event()
        loops = {op: Loop(op, server.endpoint, args, stop_load) for op in ("put", "range")}
        probe = Probe(server.endpoint, args.load_keyspace, stop_probe)
        sampler = Sampler(pid, stop_probe)
        for t in (*loops.values(), probe, sampler):
            t.start()
        time.sleep(args.before)
        path = os.path.join(server.data, "snap.db")
        env = dict(os.environ, ETCDCTL_API="3")
        t0 = time.monotonic()
        snap = subprocess.run([ETCDCTL, "--endpoints", server.endpoint, "--dial-timeout", "5s",
                               "snapshot", "save", path], capture_output=True, text=True, env=env,
                              timeout=args.snapshot_timeout)
        t1 = time.monotonic()
        time.sleep(args.after)
        stop_load.set()
        for loop in loops.values():
            loop.join(args.window + 70)
        stop_probe.set()
        probe.join(35)
        sampler.join(5)
        result["snapshot"] = {"seconds": round(t1 - t0, 2), "returncode": snap.returncode,
                              "output": (snap.stdout + snap.stderr).strip()[-400:],
                              "size_bytes": os.path.getsize(path) if os.path.exists(path) else None}
        print(f"[{kind}] snapshot: {result['snapshot']}", file=sys.stderr, flush=True)
        result["snapshot"]["etcdutl_status"] = snapshot_status(path) if os.path.exists(path) else None
        result["phases"] = summarize(loops, probe, sampler, (t0, t1))
        rss = [s[1] for s in sampler.samples if s[1] is not None]
        result["rss_max_mib"] = round(max(rss) / 1024, 1) if rss else None
        result["probe_errors"] = probe.errors
        base = sampler.samples[0][0] if sampler.samples else t0
        result["timeline"] = {
            "snapshot_s": [round(t0 - base, 3), round(t1 - base, 3)],
            "rss_cpu": [(round(t - base, 2), r, c) for t, r, c in sampler.samples],
            "probe": [(round(t - base, 3), round(ms, 2)) for t, ms in probe.samples],
            "windows": {op: [{k: w.get(k) for k in ("rps", "p50_ms", "p99_ms", "max_ms", "errors")}
                             | {"t": [round(w["t_start"] - base, 2), round(w["t_end"] - base, 2)]}
                             for w in loop.windows if "rps" in w] for op, loop in loops.items()}}
    return result


def table(results: list[dict]) -> str:
    lines = ["| target | fill keys/s | phase | put rps | range rps | range p50 / p99 ms (worst window p99) "
             "| probe p50 / p99 / max ms | server cores | RSS max MiB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for phase in ("before", "during", "after"):
            p = r["phases"][phase]
            rng, put, pr = p["range"], p["put"], p["probe"]
            lines.append(f"| {r['target']} | {r['fill']['keys_per_s']:,} | {phase} | {put['rps'] or 0:,} | "
                         f"{rng['rps'] or 0:,} | {rng['p50_ms_median']} / {rng['p99_ms_median']} "
                         f"({rng['p99_ms_worst']}) | {pr['p50_ms']} / {pr['p99_ms']} / {pr['max_ms']} | "
                         f"{p.get('server_cores')} | {p['rss_max_mib']} |")
    lines += ["", "| target | snapshot s | size MiB | etcdutl status (hash, revision, keys, size) |",
              "|---|---|---|---|"]
    for r in results:
        s = r["snapshot"]
        st = s.get("etcdutl_status") or {}
        lines.append(f"| {r['target']} | {s['seconds']} | {(s['size_bytes'] or 0) / 2**20:.1f} | "
                     f"{st.get('hash')}, {st.get('revision')}, {st.get('totalKey')}, {st.get('totalSize')} "
                     f"{st.get('error', '')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default="etcdlite-memory,etcdlite-lmdb,etcd-3.5")
    parser.add_argument("--python", default=sys.executable, help="interpreter for etcdlite (e.g. a grpcio 1.83 venv)")
    parser.add_argument("--etcdlite-path", default=None,
                        help="PYTHONPATH for etcdlite (a directory holding another etcdlite package, to try changes)")
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--value-size", type=int, default=100)
    parser.add_argument("--txn-ops", type=int, default=128)
    parser.add_argument("--fill-inflight", type=int, default=8)
    parser.add_argument("--fill-timeout", type=float, default=900)
    parser.add_argument("--put-clients", type=int, default=16)
    parser.add_argument("--range-clients", type=int, default=16)
    parser.add_argument("--load-keyspace", type=int, default=100_000)
    parser.add_argument("--window", type=float, default=1.0)
    parser.add_argument("--before", type=float, default=10)
    parser.add_argument("--after", type=float, default=10)
    parser.add_argument("--snapshot-timeout", type=float, default=600)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if not os.path.exists(ETCDLOAD):
        subprocess.run(["bash", os.path.join(HERE, "load", "build.sh")], check=True)
    results = [run_target(kind, args) for kind in args.targets.split(",")]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = args.out or os.path.join(HERE, "results", f"snapshot-under-load-{stamp}.json")
    with open(out, "w") as f:
        json.dump({"args": vars(args), "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                                   "python": platform.python_version(),
                                                   "loadavg_end": os.getloadavg()},
                   "results": results}, f, indent=1)
    print(table(results))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
