"""pytest plugin: etcdlite servers as fixtures. Registered as the ``etcdlite`` pytest11 entry point,
so installing etcdlite is enough (``pytest -p no:etcdlite`` turns it off).

Fixtures (each gives an :class:`etcdlite.testing.fixtures.EtcdLiteFixture`: ``endpoint``, ``host``,
``port``, a ready ``channel``, ``server``):

``etcdlite``
    A fresh, empty keyspace for this test: the process-wide server, reset before the test (keys,
    history, revision back to 1, compact revision -1, leases, watchers, alarms; open streams and
    Lock/Campaign waiters of earlier tests end with CANCELLED) and with no faults after it.
``etcdlite_session``
    The process-wide in-memory server itself, shared by every test that uses it (not reset). Under
    pytest-xdist every worker process has its own, on its own free port.
``etcdlite_manual_clock`` / ``etcdlite_manual_clock_session``
    The same for a second server on a manual clock (started on first use): time moves only with
    ``advance(seconds)``, which returns after every lease that expired is revoked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import pytest

if TYPE_CHECKING:
    from .fixtures import EtcdLiteFixture


def _start(**options) -> "EtcdLiteFixture":
    from .fixtures import EtcdLiteFixture  # grpc and the server load only when a test asks

    return EtcdLiteFixture.start(**options)


@pytest.fixture(scope="session")
def etcdlite_session() -> Iterator["EtcdLiteFixture"]:
    """One in-memory etcdlite for the whole test process (one per xdist worker); state is shared."""
    server = _start()
    yield server
    server.close()


@pytest.fixture
def etcdlite(etcdlite_session: "EtcdLiteFixture") -> Iterator["EtcdLiteFixture"]:
    """The session's etcdlite with a fresh, empty keyspace (reset before the test)."""
    etcdlite_session.reset()
    yield etcdlite_session
    etcdlite_session.server.clear_faults()


@pytest.fixture(scope="session")
def etcdlite_manual_clock_session() -> Iterator["EtcdLiteFixture"]:
    """One in-memory etcdlite on a manual clock for the whole test process (one per xdist worker)."""
    server = _start(time_control=True)
    yield server
    server.close()


@pytest.fixture
def etcdlite_manual_clock(etcdlite_manual_clock_session: "EtcdLiteFixture") -> Iterator["EtcdLiteFixture"]:
    """A fresh, empty keyspace on the manual-clock server; move time with ``advance(seconds)``."""
    etcdlite_manual_clock_session.reset()
    yield etcdlite_manual_clock_session
    etcdlite_manual_clock_session.server.clear_faults()
