"""A full disk: the command line stops with a one-line reason and a non-zero exit (as etcd exits),
so a supervisor restarts it; every write acknowledged before is on disk. Needs a small tmpfs
(mounted by the test, as root); skipped with the reason where mounting is impossible."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import grpc
import pytest

from etcd_targets import free_port
from etcdlite.proto import rpc_pb2, rpc_pb2_grpc
from etcdlite.storage.lmdb_backend import LmdbBackend


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_stops_the_server_with_a_one_line_reason_and_keeps_what_was_acknowledged(small_disk, tmp_path):
    port = free_port()
    data_dir = small_disk / "data"
    proc = subprocess.Popen([sys.executable, "-m", "etcdlite", "--data-dir", str(data_dir),
                             "--listen-client-urls", f"http://127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    acknowledged = []
    try:
        assert proc.stdout.readline().startswith("etcdlite: serving on")
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            kv = rpc_pb2_grpc.KVStub(channel)
            value = os.urandom(32 * 1024)
            for i in range(1000):  # 32 MiB: far more than the disk holds
                try:
                    kv.Put(rpc_pb2.PutRequest(key=b"k%04d" % i, value=value), timeout=10)
                except grpc.RpcError as error:
                    assert error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED), error
                    break
                acknowledged.append(b"k%04d" % i)
        assert acknowledged, "the disk was full before the first write"
        assert proc.wait(20) == 1
        last = [line for line in proc.stderr.read().splitlines() if line.strip()][-1]
        # LMDB reports the full disk as it sees it (ENOSPC or, from its commit, EIO)
        assert last.startswith("etcdlite: stopped: the data dir refused a write ("), last
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    copy = tmp_path / "copy"
    shutil.copytree(data_dir, copy, ignore=shutil.ignore_patterns("etcdlite.lock"))
    backend = LmdbBackend(str(copy))
    stored = {change.key for change in backend.load().changes if change.kv is not None}
    backend.close()
    assert set(acknowledged) <= stored
