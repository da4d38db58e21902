"""--auto-compaction-retention in periodic mode, side by side with real etcd: after seconds of
steady writes, the history is compacted to the revision of a little more than one retention ago
(etcd's v3compactor: samples every retention/10, compacts every retention). etcdlite runs on a
manual clock, real etcd in real time. The exact schedule is in tests/test_compactor.py; revision
mode checks every 5 minutes, too slow to watch a real etcd do it."""

from __future__ import annotations

import time

import pytest

from etcd_targets import start_etcdlite, start_target
from etcdlite.clock import ManualClock
from etcdlite.proto import rpc_pb2

RETENTION = 1.0
STEP = 0.1


@pytest.fixture(params=["etcdlite", "etcd-3.4", "etcd-3.5"])
def compacting(request):
    if request.param == "etcdlite":
        server = start_etcdlite(clock=ManualClock(), auto_compaction_retention="1s")
    else:
        server = start_target(request.param, etcd_args=["--auto-compaction-retention", "1s"])
    yield server
    server.close()


def _now(target) -> float:
    return target.clock.now() if target.clock is not None else time.monotonic()


def test_periodic_retention_keeps_about_one_retention_of_history(compacting):
    target = compacting
    written: list[tuple[float, int]] = []
    for i in range(35):
        revision = target.kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"%d" % i)).header.revision
        written.append((_now(target), revision))
        target.advance(STEP)
    end = _now(target)
    if target.clock is not None:
        time.sleep(0.3)  # the compactor runs on the server's loop after the clock's last move
    compacted = target.maintenance.HashKV(rpc_pb2.HashKVRequest()).compact_revision
    # the last compaction came at most one retention (plus a tick) ago, at the revision sampled
    # one retention (plus a tick) before it; real etcd gets some slack for scheduling
    slack = 0.0 if target.clock is not None else 0.3
    window = [r for t, r in written
              if end - 2 * (RETENTION + STEP) - STEP - slack <= t <= end - RETENTION + slack]
    assert compacted > 1
    assert window and min(window) <= compacted <= max(window), (compacted, written, end)
