#!/usr/bin/env python3
"""Side-by-side KV benchmark: real etcd vs the empty-answer grpcio ceiling vs etcdlite.

Starts each target server on a free 127.0.0.1 port, waits until it answers, drives it with
benchmarks/load/bin/etcdload (Put, Range, Txn at several concurrency levels), records the
server's CPU time per run and its peak RSS (VmHWM), stops it, and finally writes
benchmarks/results/kv-<timestamp>.json and prints a markdown table.

Target specs (--targets, comma separated):
  etcd                      /usr/bin/etcd with its own temp --data-dir
  empty-aio, empty-sync     benchmarks/empty_server.py in that mode, run by this Python
  empty-aio@/path/python    ... run by another interpreter (e.g. a venv with another grpcio)
  empty-sync:N[@python]     sync mode with a thread pool of N workers (default --sync-workers)
  etcdlite-lmdb             etcdlite from this checkout, LMDB data dir (python -m etcdlite ...)
  etcdlite-memory           etcdlite from this checkout, in memory (--memory)
  etcdlite                  the command from --etcdlite-cmd ({port}, {datadir} placeholders)
  NAME=HOST:PORT            an already running endpoint (not started, no RSS/CPU numbers)

Examples:
  python benchmarks/run_kv.py --interleave    # etcd, ceiling, etcdlite LMDB and memory, one table
  python benchmarks/run_kv.py --targets etcd,etcdlite \\
      --etcdlite-cmd 'python -m etcdlite --listen-client-urls http://127.0.0.1:{port} --data-dir {datadir}'
  python benchmarks/run_kv.py --targets empty-aio@/tmp/venv-grpc-1.78.2/bin/python,empty-aio \\
      --ops put --clients 64 --repeat 3

Every server is started by this script and stopped in a finally block; every load run and every
startup is bounded in time, and --max-seconds bounds the whole session (remaining runs are
skipped, not the cleanup).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LOAD = HERE / "load" / "bin" / "etcdload"
EMPTY_SERVER = HERE / "empty_server.py"
RESULTS = HERE / "results"

CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- helpers
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_seconds(pid: int) -> float | None:
    """utime+stime of a process (all its threads) plus its waited-for children."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        # fields after ')' start at field 3 (state); utime=14, stime=15, cutime=16, cstime=17
        ut, st, cut, cst = (int(parts[i]) for i in (11, 12, 13, 14))
        return (ut + st + cut + cst) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def proc_status_kb(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            kids = []
        out.extend(kids)
        todo.extend(kids)
    return out


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def machine_jiffies() -> tuple[int, int, int]:
    """(busy, steal, total) jiffies of the whole machine from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (v + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq + steal
    return busy, steal, busy + idle + iowait


def wait_quiet(max_wait: float, threshold: float = 0.25) -> float:
    """Wait (at most max_wait s) until the machine's busy cores over 0.5 s fall below threshold;
    returns the last sample, in cores. Other sessions may share this machine."""
    deadline = time.monotonic() + max_wait
    while True:
        b0, _, _ = machine_jiffies()
        time.sleep(0.5)
        b1, _, _ = machine_jiffies()
        cores = (b1 - b0) / CLK_TCK / 0.5
        if cores < threshold or time.monotonic() >= deadline:
            return round(cores, 2)


def grpc_version_of(python: str) -> str:
    try:
        out = subprocess.run([python, "-c", "import grpc,sys;print(grpc.__version__)"],
                             capture_output=True, text=True, timeout=30)
        return out.stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def machine(python: str) -> dict:
    """The machine a comparison ran on, with the grpcio of the Python servers and the load."""
    return {"cpus": os.cpu_count(), "cpu_model": cpu_model(), "kernel": os.uname().release,
            "python": sys.version.split()[0], "grpcio_servers": grpc_version_of(python),
            "data_fs": fs_type(tempfile.gettempdir()),
            "loadavg_before": open("/proc/loadavg").read().split()[:3]}


def fs_type(path: str) -> str:
    try:
        out = subprocess.run(["df", "-T", path], capture_output=True, text=True, timeout=10)
        return out.stdout.splitlines()[1].split()[1]
    except Exception:  # noqa: BLE001
        return "?"


# ---------------------------------------------------------------- targets
@dataclass
class Target:
    spec: str
    name: str
    kind: str  # etcd | empty | etcdlite | external
    mode: str = ""
    python: str = sys.executable
    endpoint: str = ""
    grpcio: str = ""
    proc: subprocess.Popen | None = None
    tmpdir: str | None = None
    log: Path | None = None
    meta: dict = field(default_factory=dict)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def pids(self) -> list[int]:
        if not self.proc:
            return []
        return [self.proc.pid] + descendants(self.proc.pid)

    def cpu(self) -> float | None:
        vals = [proc_cpu_seconds(p) for p in self.pids()]
        vals = [v for v in vals if v is not None]
        return sum(vals) if vals else None

    def hwm_kb(self) -> int | None:
        vals = [proc_status_kb(p, "VmHWM") for p in self.pids()]
        vals = [v for v in vals if v is not None]
        return sum(vals) if vals else None


def parse_target(spec: str, args) -> Target:
    if "=" in spec and ":" in spec.split("=", 1)[1]:
        name, ep = spec.split("=", 1)
        return Target(spec, name, "external", endpoint=ep.replace("http://", ""))
    base, _, python = spec.partition("@")
    if base == "etcd":
        return Target(spec, "etcd", "etcd")
    base, _, workers = base.partition(":")
    if base in ("empty-aio", "empty-sync"):
        py = python or sys.executable
        ver = grpc_version_of(py)
        mode = base.split("-")[1]
        name = base + (f"-w{workers}" if workers else "") + (f"-{ver}" if python else "")
        t = Target(spec, name, "empty", mode=mode, python=py, grpcio=ver)
        t.meta["workers"] = int(workers) if workers else args.sync_workers
        return t
    if base in ("etcdlite-lmdb", "etcdlite-memory"):
        t = Target(spec, base, "etcdlite", mode=base.split("-")[1], python=python or sys.executable)
        t.meta["cmdline"] = (shlex.quote(t.python) + " -m etcdlite --listen-client-urls "
                             "http://127.0.0.1:{port} --log-level error "
                             + ("--memory" if t.mode == "memory" else "--data-dir {datadir}"))
        return t
    if base == "etcdlite":
        if not args.etcdlite_cmd:
            raise SystemExit("target etcdlite needs --etcdlite-cmd")
        return Target(spec, "etcdlite", "etcdlite")
    raise SystemExit(f"unknown target spec {spec!r}")


def probe(endpoint: str, timeout: float) -> tuple[bool, str]:
    """One Range call through the load generator; True when the server answers OK."""
    try:
        out = subprocess.run(
            [str(LOAD), "-endpoint", endpoint, "-op", "range", "-clients", "1", "-total", "1",
             "-dial-timeout", "1s"],
            capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, "probe timeout"
    if out.returncode == 0:
        try:
            d = json.loads(out.stdout.strip().splitlines()[-1])
            if d.get("total", 0) >= 1 and not d.get("errors"):
                return True, ""
            return False, d.get("first_error", "no answer")
        except (ValueError, IndexError):
            return False, out.stdout + out.stderr
    return False, (out.stderr or out.stdout).strip()[-300:]


def start(t: Target, args) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    t.tmpdir = tempfile.mkdtemp(prefix=f"kvbench-{t.kind}-", dir=args.data_root)
    t.log = Path(t.tmpdir) / "server.log"
    logf = open(t.log, "wb")
    if t.kind == "external":
        logf.close()
        return
    if t.kind == "etcd":
        cport, pport = free_port(), free_port()
        curl, purl = f"http://127.0.0.1:{cport}", f"http://127.0.0.1:{pport}"
        cmd = [args.etcd_bin, "--name", "default", "--data-dir", os.path.join(t.tmpdir, "data"),
               "--listen-client-urls", curl, "--advertise-client-urls", curl,
               "--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
               "--initial-cluster", f"default={purl}", "--initial-cluster-state", "new",
               "--log-level", "error"]
        t.endpoint = f"127.0.0.1:{cport}"
        t.meta["cmd"] = cmd
        t.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
    elif t.kind == "etcdlite":
        port = free_port()
        datadir = os.path.join(t.tmpdir, "data") if not args.etcdlite_no_datadir else ""
        cmdline = t.meta.get("cmdline", args.etcdlite_cmd).format(
            port=port, datadir=shlex.quote(datadir) if datadir else "''")
        cmd = shlex.split(cmdline)
        t.endpoint = f"127.0.0.1:{port}"
        t.meta["cmd"] = cmd
        t.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, cwd=str(REPO),
                                  start_new_session=True)
    elif t.kind == "empty":
        cmd = [t.python, str(EMPTY_SERVER), "--mode", t.mode, "--port", "0",
               "--workers", str(t.meta.get("workers", args.sync_workers))]
        t.meta["cmd"] = cmd
        t.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=logf,
                                  stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        deadline = time.monotonic() + args.start_timeout
        line = ""
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(t.proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline and t.proc.poll() is None:
            if sel.select(timeout=0.2):
                line = t.proc.stdout.readline()
                break
        sel.close()
        if not line.startswith("READY "):
            raise RuntimeError(f"{t.name}: no READY line (got {line!r}); see {t.log}")
        t.endpoint = f"127.0.0.1:{int(line.split()[1])}"
    logf.close()
    # readiness: a real answered call
    deadline = time.monotonic() + args.start_timeout
    last = ""
    while time.monotonic() < deadline:
        if t.proc is not None and t.proc.poll() is not None:
            raise RuntimeError(f"{t.name} exited with {t.proc.returncode}; see {t.log}")
        ok, last = probe(t.endpoint, 5)
        if ok:
            return
        time.sleep(0.3)
    raise RuntimeError(f"{t.name} not ready after {args.start_timeout}s: {last}")


def stop(t: Target) -> None:
    if t.proc is not None and t.proc.poll() is None:
        try:
            os.killpg(t.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            t.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(t.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            t.proc.wait(timeout=10)
    if t.proc is not None and t.proc.stdout:
        t.proc.stdout.close()
    if t.tmpdir:
        shutil.rmtree(os.path.join(t.tmpdir, "data"), ignore_errors=True)


# ---------------------------------------------------------------- load runs
def run_load(t: Target, op: str, clients: int, args) -> dict:
    conns = args.conns if args.conns > 0 else max(1, min(clients, args.max_conns))
    conns = min(conns, clients)
    cmd = [str(LOAD), "-endpoint", t.endpoint, "-op", op, "-clients", str(clients),
           "-conns", str(conns), "-duration", f"{args.duration}s", "-warmup", f"{args.warmup}s",
           "-key-size", str(args.key_size), "-val-size", str(args.val_size),
           "-keyspace", str(args.keyspace), "-transport", args.transport]
    if args.procs:
        cmd += ["-procs", str(args.procs)]
    cmd += t.meta.get("load_args", [])  # e.g. ["-token", ...] (benchmarks/auth_cost.py)
    if op == "range":
        cmd.append("-prefill")
        if args.serializable:
            cmd.append("-serializable")
    quiet = wait_quiet(args.wait_quiet) if args.wait_quiet > 0 else None
    cpu0 = t.cpu()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    m0 = machine_jiffies()
    w0 = time.monotonic()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=args.warmup + args.duration + 60)
    except subprocess.TimeoutExpired:
        return {"op": op, "clients": clients, "error": "load generator timed out"}
    wall = time.monotonic() - w0
    m1 = machine_jiffies()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu1 = t.cpu()
    try:
        d = json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"op": op, "clients": clients,
                "error": (out.stderr or out.stdout).strip()[-500:] or f"rc={out.returncode}"}
    if cpu0 is not None and cpu1 is not None:
        # server CPU over the whole load process (prefill + warmup + measurement)
        d["server_cpu_s"] = round(cpu1 - cpu0, 3)
        d["server_cpu_wall_s"] = round(wall, 3)
        d["server_cores"] = round((cpu1 - cpu0) / wall, 2) if wall > 0 else None
    # Whole-machine accounting over the load process's lifetime: busy cores, VM steal, and
    # "other" = busy - server - load generator (other sessions' work on a shared machine).
    client_total = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    busy = (m1[0] - m0[0]) / CLK_TCK / wall if wall > 0 else 0.0
    d["machine_busy_cores"] = round(busy, 2)
    d["machine_steal_cores"] = round((m1[1] - m0[1]) / CLK_TCK / wall, 2) if wall > 0 else 0.0
    d["client_cores_total"] = round(client_total / wall, 2) if wall > 0 else None
    if d.get("server_cores") is not None:
        d["other_cores"] = round(max(0.0, busy - d["server_cores"] - client_total / wall), 2)
    d["quiet_before_cores"] = quiet
    return d


def median_run(runs: list[dict]) -> dict | None:
    """Median (by rps) of the clean runs, or of all runs when none is clean."""
    ok = [r for r in runs if "rps" in r and not r.get("contaminated")] or \
        [r for r in runs if "rps" in r]
    if not ok:
        return None
    ok.sort(key=lambda r: r["rps"])
    return ok[len(ok) // 2]


# ---------------------------------------------------------------- report
def fmt_rps(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f}"


def us_per_call(r: dict) -> float | None:
    """Server CPU µs per answered call (server cores over the run × measured seconds / calls)."""
    if r.get("server_cores") is None or not r.get("total"):
        return None
    return r["server_cores"] * r["seconds"] / r["total"] * 1e6


def answered_cell(cells: dict, name: str | None, op: str, clients: int) -> dict | None:
    """The median run of a target's cell, or None when there is none with an rps."""
    r = cells.get(name, {}).get(op, {}).get(str(clients)) if name else None
    return r if r and "rps" in r else None


def rps_ratio(a: dict | None, b: dict | None) -> str:
    return f"{a['rps'] / b['rps']:.2f}" if a and b and b["rps"] else "—"


def side_by_side(report: dict, baseline: str | None, ceiling: str | None) -> list[str]:
    """The summary table: per call and concurrency, the baseline and the ceiling, then every
    etcdlite target with its rps, its ratios to both and its median latency."""
    lites = [t["name"] for t in report["targets"] if t["kind"] == "etcdlite"]
    if not lites or not (baseline or ceiling):
        return []
    cells = report["cells"]

    def cell(n, op, c):
        return answered_cell(cells, n, op, c)

    hdr = ["call", "clients", baseline or "—", ceiling or "—"]
    for n in lites:
        hdr += [n, f"× {baseline or 'baseline'}", "× ceiling", "p50 ms"]
    lines = ["Side by side (median rps of the repeats; × = rps ratio):", "",
             "| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
    for op in report["params"]["ops"]:
        for c in report["params"]["clients"]:
            base, top = cell(baseline, op, c), cell(ceiling, op, c)
            row = [op.capitalize(), str(c), fmt_rps(base["rps"]) if base else "—",
                   fmt_rps(top["rps"]) if top else "—"]
            for n in lites:
                r = cell(n, op, c)
                row += [fmt_rps(r["rps"]) if r else "—", rps_ratio(r, base), rps_ratio(r, top),
                        f"{r['p50_ms']:.2f}" if r else "—"]
            lines.append("| " + " | ".join(row) + " |")
    return lines + [""]


def markdown(report: dict, baseline: str | None, ceiling: str | None) -> str:
    names = [t["name"] for t in report["targets"]]
    tinfo = {t["name"]: t for t in report["targets"]}
    cells = report["cells"]  # name -> op -> clients -> median run
    ops = report["params"]["ops"]
    clients_list = report["params"]["clients"]

    def cell(n, op, c):
        return answered_cell(cells, n, op, c)

    def ratio(n, ref, op, c):
        return rps_ratio(cell(n, op, c), cell(ref, op, c))

    lines = side_by_side(report, baseline, ceiling)
    lines += ["Throughput (median rps of the repeats):", ""]
    hdr = ["op", "clients"] + names
    lines.append("| " + " | ".join(hdr) + " |")
    lines.append("|" + "---|" * len(hdr))
    for op in ops:
        for c in clients_list:
            row = [op, str(c)]
            for n in names:
                r = cell(n, op, c)
                row.append(fmt_rps(r["rps"]) if r else "—")
            lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Details (the median clean run of each cell; latencies in ms; "
              f"×{baseline or '—'} = rps ratio to the baseline, ×ceiling = to {ceiling or '—'}; "
              "cores = CPU seconds per wall second; other = CPU used by unrelated processes; "
              "all rps = the clean repeats):", ""]
    hdr = ["target", "op", "clients", "rps", "p50", "p90", "p99", "max", "errors",
           f"×{baseline or 'baseline'}", "×ceiling", "server cores", "server µs/call",
           "client cores", "other cores", "all rps"]
    lines.append("| " + " | ".join(hdr) + " |")
    lines.append("|" + "---|" * len(hdr))
    for n in names:
        for op in ops:
            for c in clients_list:
                r = cell(n, op, c)
                if not r:
                    lines.append(f"| {n} | {op} | {c} | — |" + " |" * (len(hdr) - 4))
                    continue
                us = us_per_call(r)
                lines.append("| " + " | ".join([
                    n, op, str(c), fmt_rps(r["rps"]),
                    f"{r['p50_ms']:.2f}", f"{r['p90_ms']:.2f}", f"{r['p99_ms']:.2f}",
                    f"{r['max_ms']:.1f}",
                    str(r.get("errors", 0)) + (f" ({r['first_error'][:60]})" if r.get("errors")
                                               and r.get("first_error") else ""),
                    ratio(n, baseline, op, c), ratio(n, ceiling, op, c),
                    "—" if r.get("server_cores") is None else f"{r['server_cores']:.2f}",
                    "—" if us is None else f"{us:.0f}",
                    f"{r['client_cpu_s'] / r['seconds']:.2f}" if r.get("seconds") else "—",
                    "—" if r.get("other_cores") is None else f"{r['other_cores']:.2f}",
                    (" ".join(str(x) for x in r.get("rps_all", [])) or "no clean run:")
                    + (f" (discarded: {' '.join(str(x) for x in r['rps_discarded'])})"
                       if r.get("rps_discarded") else ""),
                ]) + " |")
    lines += ["", "| target | kind | grpcio | peak RSS (VmHWM, process + children) |",
              "|---|---|---|---|"]
    for n in names:
        t = tinfo[n]
        hwm = t.get("peak_rss_kb")
        kind = t["kind"] + (f" ({t['mode']})" if t.get("mode") else "")
        lines.append(f"| {n} | {kind} | {t.get('grpcio') or '—'} | "
                     f"{'—' if hwm is None else f'{hwm / 1024:.1f} MiB'} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 1)[1])
    p.add_argument("--targets", default="etcd,empty-aio,etcdlite-lmdb,etcdlite-memory",
                   help="comma-separated target specs (see above)")
    p.add_argument("--etcdlite-cmd", default="",
                   help="command template for etcdlite, e.g. "
                        "'python -m etcdlite --listen-client-urls http://127.0.0.1:{port} "
                        "--data-dir {datadir}'; run from the repo root")
    p.add_argument("--etcdlite-no-datadir", action="store_true",
                   help="substitute {datadir} with '' (in-memory mode)")
    p.add_argument("--etcd-bin", default=shutil.which("etcd") or "/usr/bin/etcd")
    p.add_argument("--ops", default="put,range,txn")
    p.add_argument("--clients", default="1,16,64", help="concurrency levels")
    p.add_argument("--conns", type=int, default=0,
                   help="connections per run (0: min(clients, --max-conns))")
    p.add_argument("--max-conns", type=int, default=4)
    p.add_argument("--duration", type=float, default=4.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each run")
    p.add_argument("--repeat", type=int, default=1, help="runs per cell (median by rps)")
    p.add_argument("--key-size", type=int, default=8)
    p.add_argument("--val-size", type=int, default=8)
    p.add_argument("--keyspace", type=int, default=1000)
    p.add_argument("--serializable", action="store_true", help="serializable ranges")
    p.add_argument("--transport", default="h2", choices=("h2", "grpc"),
                   help="load generator transport (h2 = low-CPU built-in client)")
    p.add_argument("--procs", type=int, default=0, help="GOMAXPROCS of the load generator")
    p.add_argument("--sync-workers", type=int, default=16, help="empty-sync thread pool size")
    p.add_argument("--baseline", default="etcd", help="target name for the first ratio column")
    p.add_argument("--ceiling", default="",
                   help="target name of the empty-answer ceiling (default: first empty-* target)")
    p.add_argument("--wait-quiet", type=float, default=10.0,
                   help="before each run wait up to this many seconds for the machine to be "
                        "idle (< 0.25 busy cores); 0 = don't")
    p.add_argument("--max-other", type=float, default=0.2,
                   help="a run during which other processes (not the server, not the load "
                        "generator) used more than this many cores is 'contaminated': it is "
                        "retried and left out of the medians")
    p.add_argument("--retries", type=int, default=2, help="retries of a contaminated run")
    p.add_argument("--start-timeout", type=float, default=30.0)
    p.add_argument("--max-seconds", type=float, default=300.0,
                   help="skip remaining runs after this many seconds")
    p.add_argument("--interleave", action="store_true",
                   help="start all targets at once and alternate between them run by run "
                        "(fairer against drift; servers stay up together)")
    p.add_argument("--data-root", default=None, help="where temp data dirs go (default: $TMPDIR)")
    p.add_argument("--out", default="", help="results JSON path (default results/kv-<ts>.json)")
    args = p.parse_args()

    if not LOAD.exists():
        print(f"building the load generator ({LOAD}) ...", file=sys.stderr)
        subprocess.run([str(HERE / "load" / "build.sh")], check=True, timeout=300)

    targets = [parse_target(s.strip(), args) for s in args.targets.split(",") if s.strip()]
    seen = set()
    for t in targets:  # unique names
        base, i = t.name, 2
        while t.name in seen:
            t.name = f"{base}#{i}"
            i += 1
        seen.add(t.name)
    ops = [o.strip() for o in args.ops.split(",") if o.strip()]
    clients_list = [int(c) for c in args.clients.split(",") if c.strip()]
    ceiling = args.ceiling or next((t.name for t in targets if t.kind == "empty"), None)
    baseline = args.baseline if any(t.name == args.baseline for t in targets) else None

    t_start = time.monotonic()
    started = _dt.datetime.now(_dt.timezone.utc)
    report: dict = {
        "date": started.isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "cpu_model": cpu_model(),
                    "kernel": platform.release(), "python": platform.python_version(),
                    "data_fs": fs_type(args.data_root or tempfile.gettempdir())},
        "params": {"ops": ops, "clients": clients_list, "duration_s": args.duration,
                   "warmup_s": args.warmup, "repeat": args.repeat, "key_size": args.key_size,
                   "val_size": args.val_size, "keyspace": args.keyspace,
                   "transport": args.transport, "max_conns": args.max_conns,
                   "conns": args.conns, "serializable": args.serializable,
                   "sync_workers": args.sync_workers, "interleave": args.interleave,
                   "wait_quiet": args.wait_quiet, "max_other": args.max_other,
                   "retries": args.retries},
        "baseline": baseline, "ceiling": ceiling,
        "targets": [], "cells": {}, "runs": [],
    }
    try:
        v = subprocess.run([args.etcd_bin, "--version"], capture_output=True, text=True,
                           timeout=10).stdout.split("\n")[0]
        report["machine"]["etcd"] = v
    except (OSError, subprocess.TimeoutExpired):
        pass

    def over_budget() -> bool:
        return time.monotonic() - t_start > args.max_seconds

    def do_runs(t: Target, op: str, c: int) -> None:
        if over_budget():
            return
        for attempt in range(1 + args.retries):
            r = run_load(t, op, c, args)
            r["target"] = t.name
            r["contaminated"] = (r.get("other_cores") or 0.0) > args.max_other
            report["runs"].append(r)
            if not r["contaminated"] or over_budget() or attempt == args.retries:
                break
            print(f"  {t.name:<24} {op:<5} c={c:<3} {r.get('rps', 0):,.0f} rps — discarded: "
                  f"other processes used {r['other_cores']} cores; retrying",
                  file=sys.stderr, flush=True)
        tag = (f"{r['rps']:,.0f} rps p50={r['p50_ms']:.2f} p99={r['p99_ms']:.2f} ms"
               if "rps" in r else f"ERROR {r.get('error')}")
        print(f"  {t.name:<24} {op:<5} c={c:<3} {tag}"
              + (f" errors={r['errors']} ({r.get('first_error')})" if r.get("errors") else ""),
              file=sys.stderr, flush=True)

    live: list[Target] = []
    try:
        if args.interleave:
            for t in targets:
                print(f"starting {t.name} ...", file=sys.stderr, flush=True)
                start(t, args)
                live.append(t)
            for _ in range(args.repeat):
                for op in ops:
                    for c in clients_list:
                        for t in targets:
                            do_runs(t, op, c)
        else:
            for t in targets:
                if over_budget():
                    print(f"skipping {t.name}: over --max-seconds", file=sys.stderr)
                    continue
                print(f"starting {t.name} ...", file=sys.stderr, flush=True)
                start(t, args)
                live.append(t)
                try:
                    for op in ops:
                        for c in clients_list:
                            for _ in range(args.repeat):
                                do_runs(t, op, c)
                finally:
                    t.meta["peak_rss_kb"] = t.hwm_kb()
                    stop(t)
                    live.remove(t)
    finally:
        for t in live:
            t.meta["peak_rss_kb"] = t.hwm_kb()
            stop(t)
        for t in targets:
            if t.tmpdir:
                shutil.rmtree(t.tmpdir, ignore_errors=True)

    for t in targets:
        report["targets"].append({"name": t.name, "kind": t.kind, "mode": t.mode,
                                  "grpcio": t.grpcio, "endpoint": t.endpoint,
                                  "peak_rss_kb": t.meta.get("peak_rss_kb"),
                                  "cmd": t.meta.get("cmd")})
        cells: dict = {}
        for op in ops:
            for c in clients_list:
                runs = [r for r in report["runs"]
                        if r.get("target") == t.name and r.get("op") == op
                        and r.get("clients") == c]
                m = median_run(runs)
                if m:
                    m = dict(m)
                    m["rps_all"] = [round(r["rps"]) for r in runs
                                    if "rps" in r and not r.get("contaminated")]
                    m["rps_discarded"] = [round(r["rps"]) for r in runs
                                          if "rps" in r and r.get("contaminated")]
                    cells.setdefault(op, {})[str(c)] = m
        report["cells"][t.name] = cells
    report["elapsed_s"] = round(time.monotonic() - t_start, 1)

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = Path(args.out) if args.out else RESULTS / f"kv-{started.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=1) + "\n")
    table = markdown(report, baseline, ceiling)
    report_md = (f"{report['date']} — {report['machine']['cpus']} CPUs "
                 f"({report['machine']['cpu_model']}), data on {report['machine']['data_fs']}, "
                 f"{args.duration:g}s runs after {args.warmup:g}s warmup, repeat={args.repeat}, "
                 f"key {args.key_size} B, value {args.val_size} B, keyspace {args.keyspace}\n\n"
                 + table)
    print(report_md)
    print(f"\nresults: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
