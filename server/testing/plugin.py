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
``etcdlite_tls`` / ``etcdlite_tls_session``
    The same for a server on an https URL whose certificate a throw-away test CA signed:
    ``ca_file`` is the CA to trust; ``url`` is ``https://...``; ``channel`` connects over TLS.
``etcdlite_mtls`` / ``etcdlite_mtls_session``
    The same with etcd's ``--client-cert-auth``: a client must present a certificate from that
    CA, such as ``client_cert_file`` / ``client_key_file`` (CN ``root``); others are refused at
    the handshake.

Servers listen on free ephemeral ports on 127.0.0.1, unless a port or an inclusive port range is
given: ``--etcdlite-port 23790`` or ``--etcdlite-port 23790-23799`` on the command line, else the
environment variable ``ETCDLITE_PORT``, else the ini option ``etcdlite_port``. Each server takes the
first free port of the range (one per session fixture in use, per xdist worker).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterator

import pytest

if TYPE_CHECKING:
    from .fixtures import EtcdLiteFixture


PORT_OPTION = "--etcdlite-port"
PORT_INI = "etcdlite_port"
PORT_ENV = "ETCDLITE_PORT"
_PORT_HELP = "port or inclusive port range (e.g. 23790 or 23790-23799) for the etcdlite fixtures' servers"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("etcdlite", "etcdlite servers as fixtures")
    group.addoption(PORT_OPTION, dest="etcdlite_port", default=None, metavar="PORT[-LAST]",
                    help=f"{_PORT_HELP}; default: ${PORT_ENV}, else the ini option {PORT_INI}, "
                         f"else free ephemeral ports")
    parser.addini(PORT_INI, help=_PORT_HELP, default="")


def _port_spec(config: pytest.Config) -> tuple[str, str] | None:
    """(where it was given, the spec) of the configured ports, or None for ephemeral ports."""
    for where, spec in ((PORT_OPTION, config.getoption("etcdlite_port")),
                        (PORT_ENV, os.environ.get(PORT_ENV)),
                        (f"ini option {PORT_INI}", config.getini(PORT_INI))):
        if spec:
            return where, str(spec)
    return None


def _ports(config: pytest.Config) -> range | None:
    given = _port_spec(config)
    if given is None:
        return None
    from .fixtures import parse_ports

    where, spec = given
    try:
        return parse_ports(spec)
    except ValueError as exc:
        raise pytest.UsageError(f"{where}: {exc}") from None


def pytest_configure(config: pytest.Config) -> None:
    _ports(config)  # a malformed port spec is a usage error before any test runs


def _start(config: pytest.Config, **options) -> "EtcdLiteFixture":
    from .fixtures import EtcdLiteFixture  # grpc and the server load only when a test asks

    return EtcdLiteFixture.start(_ports(config), **options)


@pytest.fixture(scope="session")
def etcdlite_session(pytestconfig: pytest.Config) -> Iterator["EtcdLiteFixture"]:
    """One in-memory etcdlite for the whole test process (one per xdist worker); state is shared."""
    server = _start(pytestconfig)
    yield server
    server.close()


@pytest.fixture
def etcdlite(etcdlite_session: "EtcdLiteFixture") -> Iterator["EtcdLiteFixture"]:
    """The session's etcdlite with a fresh, empty keyspace (reset before the test)."""
    etcdlite_session.reset()
    yield etcdlite_session
    etcdlite_session.server.clear_faults()


@pytest.fixture(scope="session")
def etcdlite_manual_clock_session(pytestconfig: pytest.Config) -> Iterator["EtcdLiteFixture"]:
    """One in-memory etcdlite on a manual clock for the whole test process (one per xdist worker)."""
    server = _start(pytestconfig, time_control=True)
    yield server
    server.close()


@pytest.fixture
def etcdlite_manual_clock(etcdlite_manual_clock_session: "EtcdLiteFixture") -> Iterator["EtcdLiteFixture"]:
    """A fresh, empty keyspace on the manual-clock server; move time with ``advance(seconds)``."""
    etcdlite_manual_clock_session.reset()
    yield etcdlite_manual_clock_session
    etcdlite_manual_clock_session.server.clear_faults()


@pytest.fixture(scope="session")
def etcdlite_tls_session(pytestconfig: pytest.Config) -> Iterator["EtcdLiteFixture"]:
    """One in-memory etcdlite on https (certificate from a test CA: ``ca_file``), shared."""
    server = _start(pytestconfig, tls=True)
    yield server
    server.close()


@pytest.fixture
def etcdlite_tls(etcdlite_tls_session: "EtcdLiteFixture") -> Iterator["EtcdLiteFixture"]:
    """A fresh, empty keyspace on the https server."""
    etcdlite_tls_session.reset()
    yield etcdlite_tls_session
    etcdlite_tls_session.server.clear_faults()


@pytest.fixture(scope="session")
def etcdlite_mtls_session(pytestconfig: pytest.Config) -> Iterator["EtcdLiteFixture"]:
    """One in-memory etcdlite on https with --client-cert-auth (``client_cert_file``,
    ``client_key_file``: a certificate it accepts), shared."""
    server = _start(pytestconfig, tls=True, client_cert_auth=True)
    yield server
    server.close()


@pytest.fixture
def etcdlite_mtls(etcdlite_mtls_session: "EtcdLiteFixture") -> Iterator["EtcdLiteFixture"]:
    """A fresh, empty keyspace on the client-certificate server."""
    etcdlite_mtls_session.reset()
    yield etcdlite_mtls_session
    etcdlite_mtls_session.server.clear_faults()
