"""Shared fixtures. ``target`` runs a test against each server: etcdlite and, when installed, etcd."""

from __future__ import annotations

import pytest

from etcd_targets import Target, etcd_binary, start_etcdlite, start_real_etcd
from etcdlite.clock import ManualClock

TARGETS = ["etcdlite", "etcdlite-lmdb", "etcd"]


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest, tmp_path) -> Target:
    """A fresh, empty server: etcdlite in memory, etcdlite on LMDB, real etcd 3.4."""
    if request.param == "etcd":
        binary = etcd_binary()
        if binary is None:
            pytest.skip("real etcd not installed (set ETCD_BIN or apt-get install etcd-server)")
        server = start_real_etcd(binary)
    elif request.param == "etcdlite-lmdb":
        server = start_etcdlite(str(tmp_path / "data"))
    else:
        server = start_etcdlite()
    yield server
    server.close()


@pytest.fixture
def etcdlite_target() -> Target:
    """etcdlite alone, for behaviour that has no real-etcd counterpart to compare with."""
    server = start_etcdlite()
    yield server
    server.close()


@pytest.fixture(params=["etcdlite", "etcd"])
def timed_target(request: pytest.FixtureRequest) -> Target:
    """A fresh server whose time the test moves with ``timed_target.advance(seconds)``: etcdlite on
    a manual clock (no sleeping), real etcd by waiting for real."""
    if request.param == "etcd":
        binary = etcd_binary()
        if binary is None:
            pytest.skip("real etcd not installed (set ETCD_BIN or apt-get install etcd-server)")
        server = start_real_etcd(binary)
    else:
        server = start_etcdlite(clock=ManualClock())
    yield server
    server.close()
