"""etcdctl lock / elect (Go's client-side concurrency recipes over KV, Lease and Watch; 3.4's
etcdctl against etcd 3.4, 3.5's against etcd 3.5 and etcdlite) against each target: several
etcdctl processes contend for real, and they interoperate with the Lock and Election services
(reference §8, §9: the recipes share one key scheme)."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time

import pytest

from etcd_targets import etcdctl_binary
from etcdlite.proto import rpc_pb2, v3election_pb2, v3lock_pb2

PROCESS_TIMEOUT = 30.0  # no etcdctl process may live longer than this
LINE_TIMEOUT = 10.0


def _spawn(target, *args: str, **kw) -> subprocess.Popen:
    binary = etcdctl_binary(target.etcdctl_version)
    if binary is None:
        pytest.skip("etcdctl is not installed")
    env = dict(os.environ, ETCDCTL_API="3", **kw.pop("env", {}))
    return subprocess.Popen([binary, "--endpoints", target.endpoint, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


class Processes:
    """Every etcdctl started by a test; all of them are killed at the end, whatever happens."""

    def __init__(self, target) -> None:
        self.target = target
        self.started: list[subprocess.Popen] = []

    def spawn(self, *args: str, **kw) -> subprocess.Popen:
        proc = _spawn(self.target, *args, **kw)
        self.started.append(proc)
        return proc

    def kill_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
            try:
                proc.communicate(timeout=5)
            except (subprocess.TimeoutExpired, ValueError, OSError):
                pass


@pytest.fixture
def processes(target):
    procs = Processes(target)
    yield procs
    procs.kill_all()


class Lines:
    """Reads a process's stdout line by line in a thread; ``next`` waits with a timeout."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self._lines: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def next(self, timeout: float = LINE_TIMEOUT) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no output line within {timeout} s")
        if line is None:
            pytest.fail("the process closed its output")
        return line

    def quiet(self, seconds: float = 0.5) -> None:
        try:
            line = self._lines.get(timeout=seconds)
        except queue.Empty:
            return
        pytest.fail(f"unexpected output line: {line!r}")


def _wait(proc: subprocess.Popen, timeout: float = PROCESS_TIMEOUT) -> tuple[str, str]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, (proc.returncode, err)
    return out, err


def _prefix(target, prefix: bytes) -> list:
    end = prefix[:-1] + bytes([prefix[-1] + 1])
    return list(target.kv.Range(rpc_pb2.RangeRequest(key=prefix, range_end=end)).kvs)


def _wait_for(predicate, timeout: float = LINE_TIMEOUT):
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.05)
    return result


# -- lock ------------------------------------------------------------------------------------------

HOLDERS = 4
CRITICAL_SECTION = ('echo "start $WORKER $ETCD_LOCK_KEY $ETCD_LOCK_REV" >> "$LOG"; sleep 0.2; '
                    'echo "end $WORKER" >> "$LOG"')


def test_concurrent_etcdctl_lock_commands_never_overlap(target, processes, tmp_path):
    log = tmp_path / "critical.log"
    log.touch()
    procs = [processes.spawn("lock", "shared", "--", "sh", "-c", CRITICAL_SECTION,
                             env={"WORKER": str(i), "LOG": str(log)}) for i in range(HOLDERS)]
    for proc in procs:
        _wait(proc)
    lines = log.read_text().splitlines()
    assert len(lines) == 2 * HOLDERS, lines
    workers, lock_keys, lock_revs = [], [], []
    for start, end in zip(lines[::2], lines[1::2]):
        _, worker, key, rev = start.split()
        assert end == f"end {worker}", lines  # nobody started while another was inside
        workers.append(worker)
        lock_keys.append(key)
        lock_revs.append(int(rev))
    assert sorted(workers) == [str(i) for i in range(HOLDERS)]
    assert all(key.startswith("shared/") for key in lock_keys)
    assert len(set(lock_keys)) == HOLDERS  # one session lease each
    assert lock_revs == sorted(lock_revs) and len(set(lock_revs)) == HOLDERS  # FIFO by creation
    # every session ended: the keys went with the unlocks
    _wait_for(lambda: _prefix(target, b"shared/") == [])


def test_etcdctl_lock_waits_for_a_holder_of_the_lock_service(target, processes, tmp_path):
    marker = tmp_path / "ran"
    lease = target.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60)).ID
    held = target.lock.Lock(v3lock_pb2.LockRequest(name=b"shared", lease=lease))
    proc = processes.spawn("lock", "shared", "--", "sh", "-c", f'echo "$ETCD_LOCK_KEY" > {marker}')
    _wait_for(lambda: len(_prefix(target, b"shared/")) == 2)  # etcdctl queued behind the holder
    time.sleep(0.5)
    assert proc.poll() is None and not marker.exists()
    target.lock.Unlock(v3lock_pb2.UnlockRequest(key=held.key))
    _wait(proc)
    assert marker.read_text().startswith("shared/")


def test_lock_service_waits_for_an_etcdctl_lock_holder(target, processes, tmp_path):
    release = tmp_path / "release"
    proc = processes.spawn("lock", "shared", "--", "sh", "-c",
                           f"while [ ! -e {release} ]; do sleep 0.05; done")
    _wait_for(lambda: len(_prefix(target, b"shared/")) == 1)
    lease = target.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60)).ID
    waiter = target.lock.Lock.future(v3lock_pb2.LockRequest(name=b"shared", lease=lease))
    time.sleep(0.5)
    assert not waiter.done()
    release.touch()
    _wait(proc)
    assert waiter.result(timeout=LINE_TIMEOUT).key == b"shared/%x" % lease


# -- elect -----------------------------------------------------------------------------------------


def test_etcdctl_elect_observer_sees_the_leader_value_and_the_next_leader(target, processes):
    first = processes.spawn("elect", "office", "one")
    first_out = Lines(first)
    first_key = first_out.next()
    assert first_key.startswith("office/")
    assert first_out.next() == "one"

    observer = processes.spawn("elect", "-l", "office")
    observed = Lines(observer)
    assert (observed.next(), observed.next()) == (first_key, "one")

    second = processes.spawn("elect", "office", "two")
    second_out = Lines(second)
    _wait_for(lambda: len(_prefix(target, b"office/")) == 2)
    second_out.quiet()  # not elected while the first one leads
    observed.quiet()

    first.send_signal(signal.SIGINT)  # etcdctl resigns on interrupt
    _wait(first, LINE_TIMEOUT)
    second_key = second_out.next()
    assert second_key.startswith("office/") and second_key != first_key
    assert second_out.next() == "two"
    assert (observed.next(), observed.next()) == (second_key, "two")
    # the Election service agrees
    leader = target.election.Leader(v3election_pb2.LeaderRequest(name=b"office"))
    assert (leader.kv.key, leader.kv.value) == (second_key.encode(), b"two")


def test_etcdctl_elect_observer_sees_a_leader_of_the_election_service(target, processes):
    observer = processes.spawn("elect", "-l", "office")
    observed = Lines(observer)
    observed.quiet()  # no leader yet: nothing printed
    lease = target.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60)).ID
    won = target.election.Campaign(
        v3election_pb2.CampaignRequest(name=b"office", lease=lease, value=b"svc"))
    assert (observed.next(), observed.next()) == (won.leader.key.decode(), "svc")
    target.election.Proclaim(v3election_pb2.ProclaimRequest(leader=won.leader, value=b"svc2"))
    assert (observed.next(), observed.next()) == (won.leader.key.decode(), "svc2")
