"""Shared fixtures. ``target`` runs a test against each server: etcdlite and, when installed, etcd."""

from __future__ import annotations

import pytest

from etcd_targets import Target, start_etcdlite, start_target
from etcdlite.clock import ManualClock
from etcdlite.storage import group_commit
from recording_backend import NEVER

TARGETS = ["etcdlite", "etcdlite-lmdb", "etcd-3.4", "etcd-3.5"]


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest, tmp_path) -> Target:
    """A fresh, empty server: etcdlite in memory, etcdlite on LMDB, real etcd 3.4 and 3.5; all
    hash passwords at bcrypt cost 4 (etcd's lowest, ``--bcrypt-cost 4``), so logins are fast."""
    server = start_target(request.param, tmp_path, bcrypt_cost=4, etcd_args=["--bcrypt-cost", "4"])
    yield server
    server.close()


@pytest.fixture
def etcdlite_target() -> Target:
    """etcdlite alone, for behaviour that has no real-etcd counterpart to compare with."""
    server = start_etcdlite()
    yield server
    server.close()


@pytest.fixture(params=["etcdlite", "etcd-3.4", "etcd-3.5"])
def timed_target(request: pytest.FixtureRequest) -> Target:
    """A fresh server whose time the test moves with ``timed_target.advance(seconds)``: etcdlite on
    a manual clock (no sleeping), real etcd by waiting for real."""
    if request.param == "etcdlite":
        server = start_etcdlite(clock=ManualClock())
    else:
        server = start_target(request.param)
    yield server
    server.close()


@pytest.fixture
def no_lazy_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Group commit's lazy writes wait for company for a minute, so what passes under this did
    not need the timer."""
    monkeypatch.setattr(group_commit, "LAZY_SECONDS", NEVER)
