"""Server memory (RSS) under a steady write load, with and without auto-compaction.

Every configuration is one server process (etcdlite in memory, etcdlite on LMDB, real etcd) with
or without ``--auto-compaction-mode/--auto-compaction-retention``. A client thread puts over a
bounded key set (``--keys`` keys of ``--value-size`` bytes, round robin) at a fixed ``--rate``
for ``--minutes``; a sampler reads ``VmRSS`` from ``/proc/PID/status`` every ``--sample-every``
seconds, with the server's revision and ``Maintenance.Status`` db sizes. Without compaction the
history grows by ``rate × value size`` per second; with it, it stays bounded.

Configurations (``--configs``, comma separated): ``KIND`` or ``KIND:MODE:RETENTION`` with KIND one
of ``etcdlite-memory``, ``etcdlite-lmdb``, ``etcd-3.5``, ``etcd-3.4``, e.g.
``etcdlite-memory:revision:1000`` or ``etcd-3.5:periodic:1m``. By default they all run at the same
time (``--sequential`` runs one after the other); each has its own client thread and channel.

Writes ``results/auto-compaction-rss-<stamp>.json`` (every sample) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
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

ETCD_BINARIES = {"etcd-3.5": os.path.join(os.environ.get("ETCD35_DIR", "/opt/etcd-3.5.1"), "etcd"),
                 "etcd-3.4": shutil.which("etcd") or "/usr/bin/etcd"}
DEFAULT_CONFIGS = ("etcdlite-memory,etcdlite-memory:revision:1000,"
                   "etcdlite-lmdb,etcdlite-lmdb:revision:1000,"
                   "etcdlite-memory:periodic:1m,"
                   "etcd-3.5,etcd-3.5:revision:1000")


def status_kib(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class Config:
    def __init__(self, spec: str) -> None:
        self.spec = spec
        parts = spec.split(":")
        self.kind = parts[0]
        if self.kind not in ("etcdlite-memory", "etcdlite-lmdb", *ETCD_BINARIES):
            raise SystemExit(f"unknown kind {self.kind!r} in {spec!r}")
        if len(parts) == 1:
            self.compaction: list[str] = []
        elif len(parts) == 3:
            self.compaction = ["--auto-compaction-mode", parts[1], "--auto-compaction-retention", parts[2]]
        else:
            raise SystemExit(f"config {spec!r}: KIND or KIND:MODE:RETENTION")
        self.data = tempfile.mkdtemp(prefix="bench-acrss-")
        self.endpoint = f"127.0.0.1:{free_port()}"
        self.peer = f"http://127.0.0.1:{free_port()}"
        self.proc: subprocess.Popen | None = None
        self.samples: list[dict] = []
        self.puts = 0
        self.errors = 0
        #: times all --in-flight slots were busy for a second
        self.stalls = 0
        self.first_error: str | None = None
        self.cpu_start: float | None = None

    def command(self) -> list[str]:
        url = f"http://{self.endpoint}"
        if self.kind.startswith("etcd-"):
            peer = self.peer
            return [ETCD_BINARIES[self.kind], "--name", "default", "--data-dir", self.data,
                    "--listen-client-urls", url, "--advertise-client-urls", url,
                    "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                    "--initial-cluster", f"default={peer}", "--log-level", "error", *self.compaction]
        storage = ["--memory"] if self.kind == "etcdlite-memory" else ["--data-dir", self.data]
        return [sys.executable, "-m", "etcdlite", *storage, "--listen-client-urls", url,
                "--log-level", "error", *self.compaction]

    def start(self) -> None:
        self.proc = subprocess.Popen(self.command(), cwd=REPO, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=REPO))
        wait_ready(self.endpoint, self.proc)
        self.cpu_start = cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.data, ignore_errors=True)

    def summary(self, seconds: float) -> dict:
        rss = [s["rss_kib"] for s in self.samples if s["rss_kib"] is not None]
        mib = lambda kib: round(kib / 1024, 1) if kib is not None else None  # noqa: E731
        return {"config": self.spec, "puts": self.puts, "errors": self.errors, "stalls": self.stalls,
                "first_error": self.first_error, "achieved_rate": round(self.puts / seconds, 1),
                "rss_start_mib": mib(rss[0]) if rss else None,
                "rss_end_mib": mib(rss[-1]) if rss else None,
                "rss_max_mib": mib(max(rss)) if rss else None,
                "vmhwm_mib": mib(self.samples[-1].get("hwm_kib")) if self.samples else None,
                "final_revision": self.samples[-1].get("revision") if self.samples else None,
                "final_db_size": self.samples[-1].get("db_size") if self.samples else None,
                "final_db_size_in_use": self.samples[-1].get("db_size_in_use") if self.samples else None,
                "server_cpu_s": (round(self.samples[-1]["cpu_s"] - self.cpu_start, 1)
                                 if self.samples and self.samples[-1].get("cpu_s") is not None
                                 and self.cpu_start is not None else None)}


def load(config: Config, args, start: float, end: float) -> None:
    """Puts at a fixed rate, open loop: each is sent at its scheduled time without waiting for
    the previous answer (at most ``--in-flight`` outstanding; a backlog of more than a second is
    dropped, not burst) until ``end``."""
    value = os.urandom(args.value_size // 2 + 1).hex()[:args.value_size].encode()
    keys = [b"/bench/key-%06d" % i for i in range(args.keys)]
    interval = 1.0 / args.rate
    slots = threading.BoundedSemaphore(args.in_flight)
    lock = threading.Lock()

    def done(future) -> None:
        try:
            future.result()
            with lock:
                config.puts += 1
        except grpc.RpcError as err:
            with lock:
                config.errors += 1
                config.first_error = config.first_error or f"{err.code()}: {err.details()}"
        finally:
            slots.release()

    with grpc.insecure_channel(config.endpoint) as channel:
        kv = rpc_pb2_grpc.KVStub(channel)
        next_at = start
        index = 0
        while True:
            now = time.monotonic()
            if now >= end:
                break
            if next_at > now:
                time.sleep(min(next_at - now, end - now))
                continue
            if now - next_at > 1.0:
                next_at = now
            if not slots.acquire(timeout=min(1.0, max(0.0, end - now))):
                config.stalls += 1
                continue
            kv.Put.future(rpc_pb2.PutRequest(key=keys[index % len(keys)], value=value),
                          timeout=10).add_done_callback(done)
            index += 1
            next_at += interval
        for _ in range(args.in_flight):  # wait for the outstanding calls (bounded by their timeout)
            slots.acquire(timeout=11)


def sample(config: Config, maintenance, elapsed: float) -> dict:
    pid = config.proc.pid
    row = {"t": round(elapsed, 1), "rss_kib": status_kib(pid, "VmRSS"), "hwm_kib": status_kib(pid, "VmHWM"),
           "cpu_s": cpu_seconds(pid)}
    try:
        status = maintenance.Status(rpc_pb2.StatusRequest(), timeout=5)
        row.update(revision=status.header.revision, db_size=status.dbSize, db_size_in_use=status.dbSizeInUse)
    except grpc.RpcError as err:
        row["status_error"] = str(err.code())
    return row


def sampler(configs: list[Config], args, start: float, end: float) -> None:
    channels = [grpc.insecure_channel(c.endpoint) for c in configs]
    stubs = [rpc_pb2_grpc.MaintenanceStub(ch) for ch in channels]
    try:
        tick = 0
        while True:
            at = start + tick * args.sample_every
            if at > end + 0.5:
                break
            delay = at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            for config, stub in zip(configs, stubs):
                if config.proc is not None and config.proc.poll() is None:
                    config.samples.append(sample(config, stub, time.monotonic() - start))
            if args.progress and tick % max(1, int(60 / args.sample_every)) == 0:
                print(f"[{time.monotonic() - start:6.0f}s] " + "  ".join(
                    f"{c.spec}={c.samples[-1]['rss_kib'] / 1024:.0f}MiB" for c in configs
                    if c.samples and c.samples[-1]["rss_kib"]), flush=True)
            tick += 1
    finally:
        for ch in channels:
            ch.close()


def run_group(configs: list[Config], args) -> float:
    """Start the servers, load and sample them together; returns the measured seconds."""
    try:
        for config in configs:
            config.start()
        start = time.monotonic()
        end = start + args.minutes * 60
        threads = [threading.Thread(target=load, args=(c, args, start, end), daemon=True) for c in configs]
        for thread in threads:
            thread.start()
        sampler(configs, args, start, end)
        for thread in threads:
            thread.join(15)
        return time.monotonic() - start
    finally:
        for config in configs:
            config.stop()


def table(rows: list[dict]) -> str:
    lines = ["| config | puts | puts/s | RSS start MiB | RSS end MiB | RSS max MiB | final revision | db size MiB (in use) | server CPU s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        db = (f"{r['final_db_size'] / 2**20:.1f} ({r['final_db_size_in_use'] / 2**20:.1f})"
              if r["final_db_size"] is not None else "—")
        lines.append(f"| {r['config']} | {r['puts']:,} | {r['achieved_rate']} | {r['rss_start_mib']} | "
                     f"{r['rss_end_mib']} | {r['rss_max_mib']} | {r['final_revision']} | {db} | {r['server_cpu_s']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default=DEFAULT_CONFIGS)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=100.0, help="puts per second per server")
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--in-flight", type=int, default=64, help="most outstanding puts per server")
    parser.add_argument("--value-size", type=int, default=1024)
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--sequential", action="store_true", help="one configuration at a time")
    parser.add_argument("--out", default=None, help="JSON file (default results/auto-compaction-rss-<stamp>.json)")
    parser.add_argument("--progress", action="store_true", help="print RSS once a minute")
    args = parser.parse_args()
    configs = [Config(spec) for spec in args.configs.split(",") if spec]
    for config in configs:
        if config.kind.startswith("etcd-") and not os.path.exists(ETCD_BINARIES[config.kind]):
            raise SystemExit(f"{config.kind}: {ETCD_BINARIES[config.kind]} not found")
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    groups = [[c] for c in configs] if args.sequential else [configs]
    seconds = {}
    for group in groups:
        measured = run_group(group, args)
        for config in group:
            seconds[config.spec] = measured
    rows = [c.summary(seconds[c.spec]) for c in configs]
    result = {"benchmark": "auto_compaction_rss", "started": started, "params": vars(args),
              "concurrent": not args.sequential,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "kernel": platform.release(), "loadavg_end": os.getloadavg()},
              "summary": rows,
              "samples": {c.spec: c.samples for c in configs},
              "commands": {c.spec: c.command() for c in configs}}
    out = args.out or os.path.join(HERE, "results", f"auto-compaction-rss-{time.strftime('%Y%m%d-%H%M%S')}.json")
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w") as file:
        json.dump(result, file, indent=1)
    print(table(rows))
    print(f"\nwritten {out}")


if __name__ == "__main__":
    main()
