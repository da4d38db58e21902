"""Live migration with etcd's own tool: ``etcdctl make-mirror`` from etcdlite to real etcd (3.4.23
and 3.5.1) and from real etcd to etcdlite.

What make-mirror does (etcdctl/ctlv3/command/make_mirror_command.go, clientv3/mirror): it reads
the source's current revision R (a Get of "foo"), copies every key at R in pages of 1000
(``Range(key, range_end, limit=1000, revision=R)``, the next page from the last key + "\\x00"),
one Put per key on the destination, then watches the source from R+1 and replays each source
revision as one destination Txn (its puts and deletes). Keys are renamed by replacing ``--prefix``
with ``--dest-prefix`` (default: the same prefix; ``--no-dest-prefix``: removed). It runs until
killed, prints the number of keys mirrored so far every 30 s and nothing else, and exits 128
with "Error: ..." on bad arguments. The etcdctl used is the real etcd's own release (3.5 for
etcdlite to etcdlite).

Not covered: ``etcdctl check perf`` always runs its load for 60 s (too long for a test), and
``check datascale`` reads the server's /metrics, which etcdlite does not serve.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from etcd_targets import Target, etcdctl_binary, start_target
from etcdlite.proto import rpc_pb2

#: (source, destination)
PAIRS = [("etcdlite", "etcd-3.4"), ("etcdlite", "etcd-3.5"),
         ("etcd-3.4", "etcdlite"), ("etcd-3.5", "etcdlite")]
DEADLINE = 30.0  # seconds for a mirror to catch up (a loaded machine; normally well under 1 s)
STOP_TIMEOUT = 10.0


@pytest.fixture(params=PAIRS, ids=[f"{s}-to-{d}" for s, d in PAIRS])
def pair(request, tmp_path):
    source_name, dest_name = request.param
    source = start_target(source_name, tmp_path)
    try:
        dest = start_target(dest_name, tmp_path)
    except BaseException:
        source.close()
        raise
    yield source, dest
    dest.close()
    source.close()


def etcdctl_release(source: Target, dest: Target) -> str:
    return source.etcd_version or dest.etcd_version or "3.5"


class Mirror:
    """``etcdctl --endpoints SOURCE make-mirror [options] DEST`` as a process, stopped by its PID."""

    def __init__(self, source: Target, dest: Target, *options: str) -> None:
        binary = etcdctl_binary(etcdctl_release(source, dest))
        if binary is None:
            pytest.skip("etcdctl is not installed")
        self.proc = subprocess.Popen([binary, "--endpoints", source.endpoint, "make-mirror",
                                      *options, dest.endpoint],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=dict(os.environ, ETCDCTL_API="3"))
        self.stdout = self.stderr = ""

    def stop(self) -> int:
        """SIGTERM (SIGKILL if it does not end); returns the exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.stdout, self.stderr = self.proc.communicate(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.stdout, self.stderr = self.proc.communicate(timeout=STOP_TIMEOUT)
        return self.proc.returncode

    def check_running(self) -> None:
        if self.proc.poll() is not None:
            out, err = self.proc.communicate()
            raise AssertionError(f"make-mirror exited with {self.proc.returncode}: {out!r} {err!r}")

    def __enter__(self) -> "Mirror":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def keyspace(target: Target, prefix: bytes = b"") -> dict[bytes, bytes]:
    if prefix:
        end = prefix[:-1] + bytes([prefix[-1] + 1])
        request = rpc_pb2.RangeRequest(key=prefix, range_end=end)
    else:
        request = rpc_pb2.RangeRequest(key=b"\0", range_end=b"\0")
    return {kv.key: kv.value for kv in target.kv.Range(request, timeout=10).kvs}


def get(target: Target, key: bytes):
    kvs = target.kv.Range(rpc_pb2.RangeRequest(key=key), timeout=10).kvs
    return kvs[0] if kvs else None


def revision(target: Target) -> int:
    return target.kv.Range(rpc_pb2.RangeRequest(key=b"\0"), timeout=10).header.revision


def put(target: Target, key: bytes, value: bytes, lease: int = 0) -> None:
    target.kv.Put(rpc_pb2.PutRequest(key=key, value=value, lease=lease), timeout=10)


def wait_for(description: str, condition, mirrors: list[Mirror], deadline: float = DEADLINE):
    """Poll ``condition()`` until it is truthy (bounded in time and count); the mirrors must keep
    running meanwhile."""
    end = time.monotonic() + deadline
    for _ in range(int(deadline / 0.02) + 1):
        value = condition()
        if value:
            return value
        for mirror in mirrors:
            mirror.check_running()
        if time.monotonic() >= end:
            break
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {description}")


def assert_stopped_quietly(mirror: Mirror) -> None:
    # Go's default SIGTERM: the process dies of the signal, no output (the 30 s counter aside)
    assert mirror.stop() == -signal.SIGTERM
    assert mirror.stderr == ""
    assert all(line.isdigit() for line in mirror.stdout.splitlines()), mirror.stdout


def test_make_mirror_copies_existing_keys_then_follows_puts_and_deletes(pair):
    source, dest = pair
    for i in range(20):
        put(source, b"a/%02d" % i, b"value %d" % i)
    put(source, b"bin\xff\x01", b"\x00\xff binary")
    for n in range(3):
        put(source, b"over", b"v%d" % n)
    put(source, b"gone", b"x")
    source.kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"gone"), timeout=10)
    lease = source.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=300), timeout=10).ID
    put(source, b"leased", b"l", lease=lease)
    put(dest, b"dest-only", b"kept")  # make-mirror never deletes what the source does not have
    expected = keyspace(source)
    assert len(expected) == 23

    with Mirror(source, dest) as mirror:
        wait_for("the initial copy",
                 lambda: {k: v for k, v in keyspace(dest).items() if k != b"dest-only"} == expected,
                 [mirror])
        assert get(dest, b"dest-only").value == b"kept"
        over = get(dest, b"over")
        assert (over.value, over.version) == (b"v2", 1)  # only the current value is copied
        assert get(dest, b"leased").lease == 0  # leases are not mirrored
        assert get(dest, b"gone") is None

        before = revision(dest)
        put(source, b"live/1", b"new")
        put(source, b"a/00", b"changed")
        source.kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"a/01"), timeout=10)
        deleted = source.kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"a/1", range_end=b"a/2"),
                                        timeout=10)
        assert deleted.deleted == 10
        source.kv.Txn(rpc_pb2.TxnRequest(success=[
            rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"txn/x", value=b"1")),
            rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"txn/y", value=b"2")),
            rpc_pb2.RequestOp(request_delete_range=rpc_pb2.DeleteRangeRequest(key=b"over")),
        ]), timeout=10)
        expected = keyspace(source)
        wait_for("the live changes",
                 lambda: {k: v for k, v in keyspace(dest).items() if k != b"dest-only"} == expected,
                 [mirror])
        assert b"a/10" not in expected and expected[b"a/00"] == b"changed" and b"over" not in expected
        # one destination Txn per source revision: 5 source revisions, 5 destination revisions
        assert revision(dest) == before + 5
        assert_stopped_quietly(mirror)


def test_make_mirror_prefix_options(pair):
    """Three mirrors of ``/app/`` at once: to the same prefix, to ``/copy/``, to the root."""
    source, dest = pair
    put(source, b"/app/x", b"1")
    put(source, b"/app/y/z", b"2")
    put(source, b"/apple", b"not under /app/")
    put(source, b"/other/w", b"3")
    mirrors = [Mirror(source, dest, "--prefix", "/app/"),
               Mirror(source, dest, "--prefix", "/app/", "--dest-prefix", "/copy/"),
               Mirror(source, dest, "--prefix", "/app/", "--no-dest-prefix")]
    try:
        def mirrored() -> dict[bytes, bytes]:
            return keyspace(dest)

        wait_for("the initial copies", lambda: mirrored() == {
            b"/app/x": b"1", b"/app/y/z": b"2", b"/copy/x": b"1", b"/copy/y/z": b"2",
            b"x": b"1", b"y/z": b"2"}, mirrors)
        put(source, b"/app/new", b"4")
        source.kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"/app/x"), timeout=10)
        put(source, b"/other/v", b"5")
        put(source, b"/app/y/z", b"6")
        wait_for("the live changes", lambda: mirrored() == {
            b"/app/new": b"4", b"/app/y/z": b"6", b"/copy/new": b"4", b"/copy/y/z": b"6",
            b"new": b"4", b"y/z": b"6"}, mirrors)
        for mirror in mirrors:
            assert_stopped_quietly(mirror)
    finally:
        for mirror in mirrors:
            mirror.stop()


def test_make_mirror_pages_more_than_1000_keys_from_etcdlite():
    """The initial copy reads 1000 keys a page (limit, revision, next key = last key + "\\x00"):
    etcdlite to etcdlite (both in memory: one Put per key is the slow part)."""
    source, dest = start_target("etcdlite"), start_target("etcdlite")
    try:
        keys = [b"k%04d" % i for i in range(1003)] + [b"\x00first", b"\xff\xfflast"]
        for start in range(0, len(keys), 100):  # seed in Txns (etcdlite allows 128 ops)
            source.kv.Txn(rpc_pb2.TxnRequest(success=[
                rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=key[::-1]))
                for key in keys[start:start + 100]]), timeout=10)
        at_copy = revision(source)
        with Mirror(source, dest) as mirror:
            wait_for("the initial copy", lambda: len(keyspace(dest)) == len(keys), [mirror], 60)
            put(source, b"k0000", b"after the copy")
            wait_for("the live put", lambda: get(dest, b"k0000").value == b"after the copy", [mirror])
            assert keyspace(dest) == {key: (b"after the copy" if key == b"k0000" else key[::-1])
                                      for key in keys}
            assert revision(source) == at_copy + 1
            assert_stopped_quietly(mirror)
    finally:
        dest.close()
        source.close()


@pytest.mark.parametrize("release", ["3.4", "3.5"])
@pytest.mark.parametrize("args, message", [
    (["--dest-prefix", "/a/", "--no-dest-prefix", "DEST"],
     "`--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one"),
    ([], "make-mirror takes one destination argument"),
])
def test_make_mirror_bad_arguments_exit_128(etcdlite_target, release, args, message):
    binary = etcdctl_binary(release)
    if binary is None:
        pytest.skip(f"etcdctl {release} is not installed")
    args = [etcdlite_target.endpoint if arg == "DEST" else arg for arg in args]
    proc = subprocess.run([binary, "--endpoints", etcdlite_target.endpoint, "make-mirror", *args],
                          capture_output=True, text=True, timeout=30,
                          env=dict(os.environ, ETCDCTL_API="3"))
    assert (proc.returncode, proc.stdout, proc.stderr) == (128, "", f"Error: {message}\n")
