"""Mutual exclusion under real contention: several worker PROCESSES take one lock through the Lock
service with short leases kept alive while they wait and hold, and write a shared counter with a
Txn fenced on their lock key (compare create_revision(lock key) == its create revision).

One worker is SIGKILLed while it holds the lock (its lease must expire before the next waiter may
proceed); another is SIGSTOPped while it holds the lock until its lease has expired and is then
resumed: its fenced write must fail. Afterwards the whole history is replayed (Range at every
revision) to prove that every fenced write happened while its writer held the lock, fencing
revisions strictly increase, holding intervals never overlap and no update was lost.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from etcd_targets import start_target
from etcdlite.proto import rpc_pb2

ROOT = str(Path(__file__).resolve().parents[2])
LOCK_NAME = b"stress/lock"
COUNTER = b"stress/counter"
NORMAL_WORKERS = 3
ROUNDS = 3
HOLDER_TTL = 3  # leases of well-behaved workers (kept alive every 0.5 s)
VICTIM_TTL = 2  # leases of the killed / paused workers
RUN_DEADLINE = 18.0  # one target's whole run; the test covers two targets (< 40 s)

WORKER = r'''
import json, sys, threading, time
import grpc
from etcdlite.proto import rpc_pb2, rpc_pb2_grpc, v3lock_pb2, v3lock_pb2_grpc

endpoint, worker, rounds, ttl, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
LOCK, COUNTER = b"stress/lock", b"stress/counter"
channel = grpc.insecure_channel(endpoint)
kv, lease_api = rpc_pb2_grpc.KVStub(channel), rpc_pb2_grpc.LeaseStub(channel)
lock_api = v3lock_pb2_grpc.LockStub(channel)

def report(**fields):
    print(json.dumps(dict(worker=worker, **fields)), flush=True)

def keep_alive(lease, stop):
    while not stop.wait(0.5):
        try:
            next(lease_api.LeaseKeepAlive(iter([rpc_pb2.LeaseKeepAliveRequest(ID=lease)]), timeout=2))
        except grpc.RpcError:
            pass

for round_ in range(rounds):
    lease = lease_api.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=ttl)).ID
    stop = threading.Event()
    threading.Thread(target=keep_alive, args=(lease, stop), daemon=True).start()
    locked = lock_api.Lock(v3lock_pb2.LockRequest(name=LOCK, lease=lease), timeout=30)
    fence = kv.Range(rpc_pb2.RangeRequest(key=locked.key)).kvs[0].create_revision
    report(event="acquired", round=round_, key=locked.key.decode(), fence=fence,
           revision=locked.header.revision)
    if mode == "kill":
        time.sleep(60)  # the test SIGKILLs us here
    if mode == "stop":
        sys.stdin.readline()  # the test SIGSTOPs us here, then resumes us and says "go"
    found = kv.Range(rpc_pb2.RangeRequest(key=COUNTER)).kvs
    count = int(found[0].value.split(b" ")[0]) if found else 0
    value = b"%d %s %d" % (count + 1, worker.encode(), fence)
    written = kv.Txn(rpc_pb2.TxnRequest(
        compare=[rpc_pb2.Compare(key=locked.key, target=rpc_pb2.Compare.CREATE,
                                 result=rpc_pb2.Compare.EQUAL, create_revision=fence)],
        success=[rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=COUNTER, value=value))]))
    report(event="write", round=round_, fence=fence, succeeded=written.succeeded,
           revision=written.header.revision)
    time.sleep(0.05)
    released = lock_api.Unlock(v3lock_pb2.UnlockRequest(key=locked.key))
    report(event="released", round=round_, fence=fence, revision=released.header.revision)
    stop.set()
report(event="done")
'''


@pytest.fixture(params=["etcdlite", "etcd-3.4", "etcd-3.5"])
def server(request):
    """etcdlite on the real clock (leases must expire in real time) and a real etcd."""
    target = start_target(request.param)
    yield target
    target.close()


class Worker:
    def __init__(self, endpoint: str, name: str, rounds: int, ttl: int, mode: str,
                 events: queue.Queue) -> None:
        self.name, self.mode = name, mode
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, endpoint, name, str(rounds), str(ttl), mode],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=ROOT, env=env)
        self.reports: list[dict] = []
        threading.Thread(target=self._read, args=(events,), daemon=True).start()

    def _read(self, events: queue.Queue) -> None:
        for line in self.proc.stdout:
            events.put((self, json.loads(line)))
        events.put((self, None))

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            self.proc.kill()
        self.proc.wait(5)


def _lock_keys_at(target, revision: int) -> list:
    """Keys under the lock prefix at ``revision``, oldest (by create revision) first."""
    prefix = LOCK_NAME + b"/"
    kvs = target.kv.Range(rpc_pb2.RangeRequest(
        key=prefix, range_end=prefix[:-1] + b"0", revision=revision)).kvs
    return sorted(kvs, key=lambda kv: kv.create_revision)


def _resume_after_expiry(target, worker: Worker, key: bytes, deadline: float) -> None:
    """The paused holder's lease runs out; then it continues as if nothing had happened."""
    while target.kv.Range(rpc_pb2.RangeRequest(key=key)).kvs and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # let the next holder get going, too
    os.kill(worker.proc.pid, signal.SIGCONT)
    worker.proc.stdin.write("go\n")
    worker.proc.stdin.flush()


def test_fenced_writes_happen_only_under_the_lock_even_when_holders_are_killed_or_paused(server):
    target = server
    started = time.monotonic()
    deadline = started + RUN_DEADLINE
    events: queue.Queue = queue.Queue()
    workers = [Worker(target.endpoint, f"w{i}", ROUNDS, HOLDER_TTL, "normal", events)
               for i in range(NORMAL_WORKERS)]
    killed = Worker(target.endpoint, "killed", 1, VICTIM_TTL, "kill", events)
    paused = Worker(target.endpoint, "paused", 1, VICTIM_TTL, "stop", events)
    workers += [killed, paused]
    try:
        running = len(workers)
        while running:
            try:
                worker, report = events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"workers did not finish within {RUN_DEADLINE} s")
            if report is None:
                running -= 1
                continue
            worker.reports.append(report)
            if report["event"] == "acquired" and worker is killed:
                os.kill(worker.proc.pid, signal.SIGKILL)
            elif report["event"] == "acquired" and worker is paused:
                os.kill(worker.proc.pid, signal.SIGSTOP)
                threading.Thread(target=_resume_after_expiry, daemon=True, args=(
                    target, worker, report["key"].encode(), deadline)).start()
        for worker in workers:
            worker.proc.wait(max(0.1, deadline - time.monotonic()))
    finally:
        for worker in workers:
            worker.kill()
    stderr = {w.name: w.proc.stderr.read() for w in workers}
    for worker in workers:
        if worker is killed:
            assert worker.proc.returncode == -signal.SIGKILL
        else:
            assert worker.proc.returncode == 0, stderr[worker.name]
            assert worker.reports[-1] == {"worker": worker.name, "event": "done"}

    # -- what the workers saw -------------------------------------------------------------------
    acquisitions = [(w, r) for w in workers for r in w.reports if r["event"] == "acquired"]
    writes = {(w.name, r["fence"]): r for w in workers for r in w.reports if r["event"] == "write"}
    assert len(acquisitions) == NORMAL_WORKERS * ROUNDS + 2
    assert [r["event"] for r in killed.reports] == ["acquired"]
    paused_write = writes[("paused", paused.reports[0]["fence"])]
    assert not paused_write["succeeded"], "a holder whose lease expired still wrote"
    succeeded = sorted((r["revision"], name, fence) for (name, fence), r in writes.items()
                       if r["succeeded"])
    assert len(succeeded) >= NORMAL_WORKERS * ROUNDS - 1  # well-behaved holders kept their leases

    # -- the history ----------------------------------------------------------------------------
    current = target.kv.Range(rpc_pb2.RangeRequest(key=b"\0")).header.revision
    holder_at = {}  # revision -> (lock key, create revision) of the holder, or None
    counter_at = {}  # revision -> counter KeyValue
    for revision in range(1, current + 1):
        keys = _lock_keys_at(target, revision)
        holder_at[revision] = (keys[0].key, keys[0].create_revision) if keys else None
        found = target.kv.Range(rpc_pb2.RangeRequest(key=COUNTER, revision=revision)).kvs
        counter_at[revision] = found[0] if found else None
    assert _lock_keys_at(target, current) == []  # every lock key went away in the end

    counter_writes = [(rev, kv) for rev, kv in counter_at.items()
                      if kv is not None and kv.mod_revision == rev]
    assert [rev for rev, _ in counter_writes] == [rev for rev, _, _ in succeeded]
    fences = []
    for expected, (revision, kv) in enumerate(counter_writes, start=1):
        count, name, fence = kv.value.split(b" ")
        assert int(count) == expected, "a lost update: two holders read the same counter"
        # the guarded write happened while its writer's lock key was the oldest key: it held the lock
        holder = holder_at[revision]
        assert holder is not None and holder[1] == int(fence), (revision, holder, kv.value)
        fences.append(int(fence))
    assert fences == sorted(fences) and len(set(fences)) == len(fences), fences

    # Lock answered only when the key was the oldest, and holding intervals never overlap
    intervals = []
    for worker, report in acquisitions:
        key, fence, granted = report["key"].encode(), report["fence"], report["revision"]
        assert holder_at[granted] == (key, fence), (worker.name, report, holder_at[granted])
        gone = next((rev for rev in range(granted, current + 1)
                     if holder_at[rev] is None or holder_at[rev][0] != key
                     or holder_at[rev][1] != fence), None)
        assert gone is not None
        intervals.append((fence, granted, gone, worker.name))
    intervals.sort()
    assert sum(granted > fence for fence, granted, _, _ in intervals) >= 3, intervals  # contention
    for (_, _, gone, first), (_, granted, _, second) in zip(intervals, intervals[1:]):
        assert granted >= gone, f"{second} was granted at {granted} before {first} let go at {gone}"
    assert time.monotonic() - started < RUN_DEADLINE + 5
