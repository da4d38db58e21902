"""Restarts keep every acknowledged write: clean stops and SIGKILL in the middle of a write load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import grpc

from etcd_targets import free_port
from etcdlite.embed import EtcdLite
from etcdlite.proto import rpc_pb2, rpc_pb2_grpc

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _kv(endpoint: str) -> tuple[grpc.Channel, rpc_pb2_grpc.KVStub]:
    channel = grpc.insecure_channel(endpoint)
    return channel, rpc_pb2_grpc.KVStub(channel)


def test_restart_recovers_keys_history_revision_and_compact_revision(tmp_path):
    data = str(tmp_path / "data")
    with EtcdLite(data_dir=data) as etcd:
        channel, kv = _kv(etcd.endpoint)
        for i in range(5):
            kv.Put(rpc_pb2.PutRequest(key=b"a", value=b"v%d" % i))       # revisions 2..6
        kv.Put(rpc_pb2.PutRequest(key=b"b", value=b"x"))                  # 7
        kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"b"))              # 8
        kv.Put(rpc_pb2.PutRequest(key=b"c", value=b"y"))                  # 9
        kv.Compact(rpc_pb2.CompactionRequest(revision=4))
        hash_before = rpc_pb2_grpc.MaintenanceStub(channel).HashKV(rpc_pb2.HashKVRequest())
        channel.close()

    with EtcdLite(data_dir=data) as etcd:
        channel, kv = _kv(etcd.endpoint)
        now = kv.Range(rpc_pb2.RangeRequest(key=b"\x00", range_end=b"\x00"))
        assert now.header.revision == 9
        assert [(x.key, x.value, x.create_revision, x.mod_revision, x.version) for x in now.kvs] == [
            (b"a", b"v4", 2, 6, 5), (b"c", b"y", 9, 9, 1)]
        old = kv.Range(rpc_pb2.RangeRequest(key=b"a", revision=4))
        assert (old.kvs[0].value, old.kvs[0].version) == (b"v2", 3)
        at_seven = kv.Range(rpc_pb2.RangeRequest(key=b"b", revision=7))
        assert at_seven.kvs[0].value == b"x"
        try:
            kv.Range(rpc_pb2.RangeRequest(key=b"a", revision=3))
            raise AssertionError("reading below the compact revision must fail")
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.OUT_OF_RANGE
            assert exc.details() == "etcdserver: mvcc: required revision has been compacted"
        hash_after = rpc_pb2_grpc.MaintenanceStub(channel).HashKV(rpc_pb2.HashKVRequest())
        assert (hash_after.hash, hash_after.compact_revision) == (hash_before.hash, 4)
        assert kv.Put(rpc_pb2.PutRequest(key=b"d", value=b"z")).header.revision == 10
        channel.close()


def test_raft_term_grows_by_one_per_start(tmp_path):
    data = str(tmp_path / "data")
    terms = []
    for _ in range(3):
        with EtcdLite(data_dir=data) as etcd:
            channel, kv = _kv(etcd.endpoint)
            terms.append(kv.Range(rpc_pb2.RangeRequest(key=b"x")).header.raft_term)
            channel.close()
    assert terms == [2, 3, 4]


def _start_process(data: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "etcdlite", "--data-dir", data, "--listen-client-urls",
         f"http://127.0.0.1:{port}", "--log-level", "error"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=dict(os.environ, PYTHONPATH=REPO))
    assert "serving on" in proc.stdout.readline()
    return proc


def test_every_acknowledged_write_survives_sigkill_during_a_write_load(tmp_path):
    data = str(tmp_path / "data")
    port = free_port()
    proc = _start_process(data, port)
    acknowledged: dict[bytes, tuple[bytes, int]] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n: int) -> None:
        channel, kv = _kv(f"127.0.0.1:{port}")
        i = 0
        while not stop.is_set() and i < 5000:
            key, value = b"w%d/%05d" % (n, i), b"value-%d-%d" % (n, i)
            try:
                revision = kv.Put(rpc_pb2.PutRequest(key=key, value=value), timeout=5).header.revision
            except grpc.RpcError:
                break
            with lock:
                acknowledged[key] = (value, revision)
            i += 1
        channel.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with lock:
            if len(acknowledged) >= 300:
                break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    stop.set()
    for thread in threads:
        thread.join(30)
    assert len(acknowledged) >= 300

    proc = _start_process(data, port)
    try:
        channel, kv = _kv(f"127.0.0.1:{port}")
        stored = kv.Range(rpc_pb2.RangeRequest(key=b"w", range_end=b"x"))
        found = {x.key: (x.value, x.mod_revision) for x in stored.kvs}
        missing = {k: v for k, v in acknowledged.items() if found.get(k) != v}
        assert not missing, f"{len(missing)} acknowledged writes lost or changed"
        assert stored.header.revision >= max(rev for _, rev in acknowledged.values())
        # Revisions stay dense: one per stored put, starting at 2.
        revisions = sorted(rev for _, rev in found.values())
        assert revisions == list(range(2, 2 + len(revisions)))
        channel.close()
    finally:
        proc.terminate()
        proc.wait(30)
