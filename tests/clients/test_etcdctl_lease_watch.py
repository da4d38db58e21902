"""etcdctl lease and watch commands (3.4's etcdctl against etcd 3.4, 3.5's against etcd 3.5 and
etcdlite) against each target: printed output, exit codes and error lines must be the same for
etcdlite and etcd (reference §6, §7).

Lease IDs chosen by the server are opaque, so they are read back from ``lease grant``'s output.
``etcdctl watch`` never exits on its own unless the server cancels the watch: it is run in the
background, its output read with a deadline, and then it is stopped.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time

import pytest

from etcd_targets import etcdctl_binary

HEADER = {"cluster_id": 14841639068965178418, "member_id": 10276657743932975437, "raft_term": 2}
LEASE_NOT_FOUND = "etcdserver: requested lease not found"


def _granted(target, ttl: str, expected_ttl: int) -> str:
    out = target.etcdctl("lease", "grant", ttl).stdout
    match = re.fullmatch(r"lease ([0-9a-f]{16}) granted with TTL\((\d+)s\)\n", out)
    assert match, out
    assert int(match.group(2)) == expected_ttl
    assert int(match.group(1), 16) > 0
    return match.group(1)


def _fails(target, *args, code: int, stderr_end: str) -> None:
    proc = target.etcdctl(*args, check=False)
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    assert proc.stderr.endswith(stderr_end), proc.stderr


class _Watch:
    """``etcdctl watch ...`` running in the background; ``read`` collects its stdout."""

    def __init__(self, target, *args: str) -> None:
        binary = etcdctl_binary(target.etcdctl_version)
        if binary is None:
            pytest.skip("etcdctl is not installed")
        env = dict(os.environ, ETCDCTL_API="3")
        self.proc = subprocess.Popen([binary, "--endpoints", target.endpoint, "watch", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self._out = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for chunk in iter(lambda: self.proc.stdout.read1(4096), b""):
            with self._lock:
                self._out.extend(chunk)

    def read(self, expected: str, timeout: float = 5.0, quiet: float = 0.3) -> str:
        """Wait until at least ``len(expected)`` bytes were printed (bounded), then ``quiet``
        seconds more for anything extra; return everything printed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self._out) >= len(expected.encode()):
                    break
            time.sleep(0.02)
        time.sleep(quiet)
        with self._lock:
            return self._out.decode()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def test_etcdctl_lease_grant_keep_alive_timetolive_list_and_revoke(target):
    long_lease = _granted(target, "60", 60)
    short_lease = _granted(target, "30", 30)
    assert long_lease != short_lease
    assert target.etcdctl("put", "a", "1", f"--lease={long_lease}").stdout == "OK\n"
    assert target.etcdctl("put", "other", "1").stdout == "OK\n"
    # remaining: the TTL less the seconds gone by, truncated (several on a loaded machine)
    assert re.fullmatch(rf"lease {long_lease} granted with TTL\(60s\), remaining\(5[0-9]s\), "
                        r"attached keys\(\[a\]\)\n",
                        target.etcdctl("lease", "timetolive", long_lease, "--keys").stdout)
    assert re.fullmatch(rf"lease {short_lease} granted with TTL\(30s\), remaining\(2[0-9]s\)\n",
                        target.etcdctl("lease", "timetolive", short_lease).stdout)
    assert target.etcdctl("lease", "keep-alive", "--once", long_lease).stdout == (
        f"lease {long_lease} keepalived with TTL(60)\n")
    # soonest expiry first
    assert target.etcdctl("lease", "list").stdout == (
        f"found 2 leases\n{short_lease}\n{long_lease}\n")
    assert json.loads(target.etcdctl("lease", "list", "-w", "json").stdout) == dict(
        HEADER, revision=3, leases=[{"id": int(short_lease, 16)}, {"id": int(long_lease, 16)}])
    # unknown leases
    assert target.etcdctl("lease", "timetolive", "1234").stdout == (
        "lease 0000000000001234 already expired\n")
    assert json.loads(target.etcdctl("lease", "timetolive", "1234", "-w", "json").stdout) == dict(
        HEADER, revision=3, id=0x1234, ttl=-1, **{"granted-ttl": 0, "keys": None})
    _fails(target, "lease", "keep-alive", "--once", "1234", code=2,
           stderr_end=f"Error: {LEASE_NOT_FOUND}\n")
    # revoke deletes the attached key
    assert target.etcdctl("lease", "revoke", long_lease).stdout == f"lease {long_lease} revoked\n"
    assert target.etcdctl("get", "", "--prefix").stdout == "other\n1\n"
    _fails(target, "lease", "revoke", long_lease, code=1,
           stderr_end=f"Error: failed to revoke lease ({LEASE_NOT_FOUND})\n")
    assert target.etcdctl("lease", "list").stdout == f"found 1 leases\n{short_lease}\n"
    # TTLs below the minimum are raised to 2 s
    _granted(target, "1", 2)


def test_etcdctl_watch_replays_history_with_rev_prefix_and_prev_kv(target):
    target.etcdctl("put", "w/x", "1")  # 2
    target.etcdctl("put", "w/y", "2")  # 3
    target.etcdctl("put", "w/x", "3")  # 4
    target.etcdctl("del", "w/y")       # 5
    target.etcdctl("put", "z", "9")    # 6
    expected = ("PUT\nw/x\n1\n" "PUT\nw/y\n2\n" "PUT\nw/x\n1\nw/x\n3\n" "DELETE\nw/y\n2\nw/y\n\n")
    with _Watch(target, "w/", "--prefix", "--rev", "1", "--prev-kv") as watch:
        assert watch.read(expected) == expected
    expected = "PUT\nw/x\n1\nPUT\nw/x\n3\n"
    with _Watch(target, "w/x", "--rev", "2") as watch:
        assert watch.read(expected) == expected
    # a watch from the next revision prints what is written while it runs
    with _Watch(target, "w/", "--prefix", "--rev", "7") as watch:
        target.etcdctl("put", "w/live", "v")  # 7
        target.etcdctl("put", "not-w", "v")   # 8
        target.etcdctl("del", "w/", "--prefix")  # 9
        expected = "PUT\nw/live\nv\nDELETE\nw/live\n\nDELETE\nw/x\n\n"
        assert watch.read(expected) == expected


def test_etcdctl_watch_canceled_by_the_server_exits_with_the_reason(target):
    for value in ("1", "2", "3"):
        target.etcdctl("put", "a", value)  # 2, 3, 4
    target.etcdctl("compaction", "3", "--physical")
    _fails(target, "watch", "a", "--rev", "2", code=5,
           stderr_end="watch was canceled (etcdserver: mvcc: required revision has been "
                      "compacted)\nError: watch is canceled by the server\n")
    _fails(target, "watch", "b", "a", code=5,
           stderr_end="watch was canceled (mvcc: watcher range is empty)\n"
                      "Error: watch is canceled by the server\n")
    # at the compact revision the watch works
    expected = "PUT\na\n2\nPUT\na\n3\n"
    with _Watch(target, "a", "--rev", "3") as watch:
        assert watch.read(expected) == expected
