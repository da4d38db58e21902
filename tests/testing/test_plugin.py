"""The pytest plugin, run through pytest's own ``pytester`` in subprocesses.

Each run gets the plugin the way an installed etcdlite provides it: through the ``pytest11`` entry
point declared in pyproject.toml (a minimal dist-info carrying that declaration is put on the
subprocess's path, with the repository for the ``server`` package), not through ``-p``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 120


def _declared_entry_points() -> dict[str, str]:
    tomllib = pytest.importorskip("tomllib")
    with open(REPO / "pyproject.toml", "rb") as fh:
        project = tomllib.load(fh)["project"]
    return project.get("entry-points", {}).get("pytest11", {})


@pytest.fixture(scope="module")
def dist_dir(tmp_path_factory) -> Path:
    """A directory holding a dist-info with pyproject's pytest11 entry points, as pip installs it."""
    root = tmp_path_factory.mktemp("site")
    info = root / "etcdlite_pytester_probe-0.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: etcdlite-pytester-probe\nVersion: 0.0.0\n")
    lines = ["[pytest11]"] + [f"{name} = {target}" for name, target in _declared_entry_points().items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def run(pytester: pytest.Pytester, dist_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """Run pytest in a subprocess with the plugin available through its entry point."""
    monkeypatch.setenv("PYTHONPATH", f"{dist_dir}{':' if sys.platform != 'win32' else ';'}{REPO}")
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("PYTEST_PLUGINS", raising=False)

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=RUN_TIMEOUT)

    return run


def test_the_plugin_is_declared_as_a_pytest11_entry_point():
    assert _declared_entry_points() == {"etcdlite": "etcdlite.testing.plugin"}


def test_fixtures_give_endpoint_host_port_a_ready_channel_and_the_server(pytester, run):
    pytester.makepyfile(test_shape="""
        import grpc
        from etcdlite.embed import EtcdLite
        from etcdlite.proto import rpc_pb2

        def test_shape(etcdlite, etcdlite_session):
            assert etcdlite is etcdlite_session
            assert isinstance(etcdlite.server, EtcdLite)
            assert etcdlite.host == "127.0.0.1" and etcdlite.port > 0
            assert etcdlite.endpoint == f"127.0.0.1:{etcdlite.port}" == etcdlite.server.endpoint
            assert isinstance(etcdlite.channel, grpc.Channel)
            # ready: the first call needs no connection set-up
            got = etcdlite.kv.Range(rpc_pb2.RangeRequest(key=b"k"), timeout=5)
            assert got.header.revision == 1 and got.count == 0

        def test_manual_clock_server_is_another_server(etcdlite, etcdlite_manual_clock):
            assert etcdlite_manual_clock.port != etcdlite.port
            before = etcdlite_manual_clock.now()
            etcdlite_manual_clock.advance(10)
            assert etcdlite_manual_clock.now() == before + 10
    """)
    result = run("-q")
    result.assert_outcomes(passed=2)


def test_tls_fixtures_serve_https_and_hand_out_the_ca_and_a_client_certificate(pytester, run):
    pytester.makepyfile(test_tls="""
        import grpc
        import pytest
        from etcdlite.proto import rpc_pb2, rpc_pb2_grpc

        def _put(endpoint, credentials):
            with grpc.secure_channel(endpoint, credentials) as channel:
                return rpc_pb2_grpc.KVStub(channel).Put(
                    rpc_pb2.PutRequest(key=b"k", value=b"v"), timeout=5).header.revision

        def test_tls(etcdlite_tls, etcdlite):
            assert etcdlite_tls.url == f"https://{etcdlite_tls.endpoint}"
            assert etcdlite_tls.port != etcdlite.port
            assert etcdlite_tls.kv.Range(rpc_pb2.RangeRequest(key=b"k"), timeout=5).count == 0
            ca = open(etcdlite_tls.ca_file, "rb").read()
            assert _put(etcdlite_tls.endpoint, grpc.ssl_channel_credentials(ca)) == 2

        def test_tls_starts_empty(etcdlite_tls):
            assert etcdlite_tls.kv.Range(rpc_pb2.RangeRequest(key=b"k"), timeout=5).count == 0

        def test_mtls(etcdlite_mtls):
            ca = open(etcdlite_mtls.ca_file, "rb").read()
            with pytest.raises(grpc.RpcError) as refused:
                _put(etcdlite_mtls.endpoint, grpc.ssl_channel_credentials(ca))
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
            good = grpc.ssl_channel_credentials(
                ca, open(etcdlite_mtls.client_key_file, "rb").read(),
                open(etcdlite_mtls.client_cert_file, "rb").read())
            assert _put(etcdlite_mtls.endpoint, good) == 2
            assert etcdlite_mtls.kv.Range(rpc_pb2.RangeRequest(key=b"k"), timeout=5).count == 1
    """)
    run("-q").assert_outcomes(passed=3)


def test_every_test_gets_a_fresh_empty_keyspace(pytester, run):
    """The first test leaves everything behind (history, compaction, leases, a watch stream, a
    lock waiter, an election, an alarm); the next one finds a server as freshly started."""
    pytester.makepyfile(test_fresh="""
        import threading
        import grpc
        import pytest
        from etcdlite.proto import rpc_pb2, v3election_pb2, v3lock_pb2

        LEFT = {}

        def test_leaves_a_mess(etcdlite):
            kv, lease = etcdlite.kv, etcdlite.lease
            for i in range(5):
                kv.Put(rpc_pb2.PutRequest(key=b"k%d" % i, value=b"v"))
            kv.Compact(rpc_pb2.CompactionRequest(revision=4))
            lease_id = lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=600)).ID
            kv.Put(rpc_pb2.PutRequest(key=b"leased", value=b"v", lease=lease_id))
            holder = etcdlite.lock.Lock(v3lock_pb2.LockRequest(name=b"mylock", lease=lease_id))
            other = lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=600)).ID
            LEFT["lock"] = etcdlite.lock.Lock.future(v3lock_pb2.LockRequest(name=b"mylock", lease=other))
            etcdlite.election.Campaign(v3election_pb2.CampaignRequest(name=b"el", lease=lease_id, value=b"a"))
            LEFT["campaign"] = etcdlite.election.Campaign.future(
                v3election_pb2.CampaignRequest(name=b"el", lease=other, value=b"b"))
            stop = threading.Event()
            def requests():
                yield rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"k0"))
                stop.wait(30)
            LEFT["stop"] = stop
            LEFT["watch"] = etcdlite.watch.Watch(requests())
            assert next(LEFT["watch"]).created
            etcdlite.maintenance.Alarm(rpc_pb2.AlarmRequest(action=1, memberID=0, alarm=1))

        def test_finds_a_fresh_server(etcdlite):
            kv = etcdlite.kv
            got = kv.Range(rpc_pb2.RangeRequest(key=b"\\0", range_end=b"\\0"))
            assert got.header.revision == 1 and got.count == 0 and got.header.raft_term == 2
            assert etcdlite.lease.LeaseLeases(rpc_pb2.LeaseLeasesRequest()).leases == []
            status = etcdlite.maintenance.Status(rpc_pb2.StatusRequest())
            assert status.errors == [] and status.raftIndex == 1
            assert etcdlite.maintenance.HashKV(rpc_pb2.HashKVRequest()).compact_revision == -1
            # what the first test left open was ended by the reset
            for name in ("lock", "campaign"):
                with pytest.raises(grpc.RpcError) as err:
                    LEFT[name].result(timeout=5)
                assert err.value.code() == grpc.StatusCode.CANCELLED
                assert "keyspace reset" in err.value.details()
            with pytest.raises(grpc.RpcError) as err:
                next(LEFT["watch"])
            assert err.value.code() == grpc.StatusCode.CANCELLED
            LEFT["stop"].set()
            # and the new keyspace works as a new one does
            assert kv.Put(rpc_pb2.PutRequest(key=b"k0", value=b"v")).header.revision == 2
            assert etcdlite.lock.Lock(v3lock_pb2.LockRequest(
                name=b"mylock", lease=etcdlite.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60)).ID),
                timeout=5).key.startswith(b"mylock/")
    """)
    result = run("-q", "-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_manual_clock_fixture_expires_a_lease_without_sleeping(pytester, run):
    pytester.makepyfile(test_clock="""
        import time
        from etcdlite.proto import rpc_pb2

        def test_expiry(etcdlite_manual_clock):
            etcd = etcdlite_manual_clock
            lease_id = etcd.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=3600)).ID
            etcd.kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v", lease=lease_id))
            started = time.monotonic()
            etcd.advance(3599)
            assert etcd.kv.Range(rpc_pb2.RangeRequest(key=b"k")).count == 1
            assert etcd.advance(2) == 1
            assert etcd.kv.Range(rpc_pb2.RangeRequest(key=b"k")).count == 0
            assert time.monotonic() - started < 1

        def test_the_next_test_has_no_lease(etcdlite_manual_clock):
            assert etcdlite_manual_clock.lease.LeaseLeases(rpc_pb2.LeaseLeasesRequest()).leases == []
    """)
    run("-q").assert_outcomes(passed=2)


def test_faults_do_not_outlive_their_test(pytester, run):
    pytester.makepyfile(test_faults_scope="""
        import grpc, pytest
        from etcdlite.proto import rpc_pb2

        def test_breaks_everything(etcdlite):
            etcdlite.inject_error("Put", grpc.StatusCode.UNAVAILABLE, "down")
            etcdlite.inject_delay("Range", 0.01)
            with pytest.raises(grpc.RpcError):
                etcdlite.kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v"))
            assert len(etcdlite.server.active_faults) == 2
            etcdlite.pause()

        def test_put_works_again(etcdlite):
            assert etcdlite.server.active_faults == [] and not etcdlite.server.is_paused
            assert etcdlite.kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v"), timeout=5).header.revision == 2
    """)
    run("-q").assert_outcomes(passed=2)


def test_xdist_workers_have_their_own_servers(pytester, run, tmp_path):
    """``-n 2``: each worker process has one server of its own (one port, reused for its tests);
    tests running at the same time in both workers never see each other's keys."""
    pytest.importorskip("xdist")
    records = tmp_path / "records"
    records.mkdir()
    pytester.makepyfile(test_parallel=f"""
        import json, os, time
        import pytest
        from etcdlite.proto import rpc_pb2

        @pytest.mark.parametrize("i", range(12))
        def test_isolated(etcdlite, i):
            kv = etcdlite.kv
            assert kv.Range(rpc_pb2.RangeRequest(key=b"\\0", range_end=b"\\0")).count == 0
            mine = str(i).encode()
            assert kv.Put(rpc_pb2.PutRequest(key=b"owner", value=mine)).header.revision == 2
            time.sleep(0.05)  # the other worker runs a test meanwhile
            got = kv.Range(rpc_pb2.RangeRequest(key=b"\\0", range_end=b"\\0"))
            assert [(x.key, x.value) for x in got.kvs] == [(b"owner", mine)]
            assert got.header.revision == 2
            record = dict(worker=os.environ.get("PYTEST_XDIST_WORKER"), pid=os.getpid(),
                          port=etcdlite.port, test=i)
            with open(os.path.join({str(records)!r}, f"{{i}}.json"), "w") as fh:
                json.dump(record, fh)
    """)
    result = run("-q", "-n", "2")
    result.assert_outcomes(passed=12)
    seen = [json.loads(p.read_text()) for p in records.glob("*.json")]
    assert len(seen) == 12
    ports_by_worker: dict[str, set[int]] = {}
    pids_by_worker: dict[str, set[int]] = {}
    for record in seen:
        ports_by_worker.setdefault(record["worker"], set()).add(record["port"])
        pids_by_worker.setdefault(record["worker"], set()).add(record["pid"])
    assert set(ports_by_worker) == {"gw0", "gw1"}
    assert all(len(ports) == 1 for ports in ports_by_worker.values()), ports_by_worker
    assert all(len(pids) == 1 for pids in pids_by_worker.values())
    assert ports_by_worker["gw0"] != ports_by_worker["gw1"]
    assert pids_by_worker["gw0"] != pids_by_worker["gw1"]


def _readme_example() -> str:
    readme = (REPO / "README.md").read_text()
    match = re.search(r"<!-- pytest-example:[^>]*-->\s*```python\n(.*?)```", readme, re.S)
    assert match, "README.md lost its pytest example"
    return match.group(1)


def test_the_readme_example_passes_as_written(pytester, run):
    pytest.importorskip("aetcd")
    pytester.makepyfile(test_readme_example=_readme_example())
    run("-q").assert_outcomes(passed=2)


def test_the_plugin_can_be_switched_off(pytester, run):
    pytester.makepyfile(test_off="""
        def test_needs_it(etcdlite):
            pass
    """)
    result = run("-q", "-p", "no:etcdlite")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'etcdlite' not found*"])


# -- ports ----------------------------------------------------------------------------------

def _free_port_range(size: int) -> range:
    """``size`` consecutive ports that are free now (outside the ephemeral range)."""
    import random
    import socket

    for _ in range(200):
        base = random.randrange(20000, 30000)
        sockets = []
        try:
            for port in range(base, base + size):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return range(base, base + size)
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free port range")


PORTS_TEST = """
    import json, os

    def test_ports(etcdlite, etcdlite_manual_clock):
        with open(os.path.join({out!r}, "%s.json" % os.getpid()), "w") as fh:
            json.dump([etcdlite.port, etcdlite_manual_clock.port], fh)
        assert etcdlite.kv is not None
"""


def _ports_seen(out: Path) -> list[list[int]]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]


def test_a_port_range_on_the_command_line_places_every_server_in_it(pytester, run, tmp_path,
                                                                  monkeypatch):
    ports = _free_port_range(10)
    out = tmp_path / "out"
    out.mkdir()
    pytester.makepyfile(test_ports=PORTS_TEST.format(out=str(out)))
    monkeypatch.setenv("ETCDLITE_PORT", "1-2")  # the command line wins
    run("-q", "--etcdlite-port", f"{ports[0]}-{ports[-1]}").assert_outcomes(passed=1)
    [[plain, manual]] = _ports_seen(out)
    assert plain == ports[0] and manual == ports[1]


def test_a_single_port_is_used_and_a_second_server_asks_for_a_range(pytester, run, tmp_path):
    ports = _free_port_range(1)
    pytester.makepyfile(test_one_port=f"""
        def test_one(etcdlite):
            assert etcdlite.port == {ports[0]}

        def test_two(etcdlite, etcdlite_manual_clock):
            pass
    """)
    result = run("-q", "-p", "no:randomly", "--etcdlite-port", str(ports[0]))
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([f"*no free port among port {ports[0]}*give a wider range, "
                                 f"e.g. --etcdlite-port {ports[0]}-{ports[0] + 9}*"])


def test_the_port_comes_from_the_environment_then_the_ini_option(pytester, run, tmp_path, monkeypatch):
    env_ports, ini_ports = _free_port_range(2), _free_port_range(2)
    assert set(env_ports).isdisjoint(ini_ports)
    out = tmp_path / "out"
    out.mkdir()
    pytester.makepyfile(test_ports=PORTS_TEST.format(out=str(out)))
    pytester.makeini(f"[pytest]\netcdlite_port = {ini_ports[0]}-{ini_ports[-1]}\n")
    run("-q").assert_outcomes(passed=1)
    monkeypatch.setenv("ETCDLITE_PORT", f"{env_ports[0]}-{env_ports[-1]}")
    run("-q").assert_outcomes(passed=1)
    assert {tuple(sorted(pair)) for pair in _ports_seen(out)} == {tuple(env_ports), tuple(ini_ports)}


def test_xdist_workers_share_a_port_range(pytester, run, tmp_path):
    pytest.importorskip("xdist")
    ports = _free_port_range(4)
    out = tmp_path / "out"
    out.mkdir()
    pytester.makepyfile(test_ports=PORTS_TEST.format(out=str(out)) + """
    def test_other(etcdlite):
        pass
""")
    run("-q", "-n", "2", f"--etcdlite-port={ports[0]}-{ports[-1]}").assert_outcomes(passed=2)
    seen = [port for pair in _ports_seen(out) for port in pair]
    assert seen and set(seen) <= set(ports) and len(seen) == len(set(seen))


@pytest.mark.parametrize("spec", ["http", "0", "2380-2379", "70000", "1-2-3"])
def test_a_malformed_port_is_a_usage_error(pytester, run, spec):
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = run("-q", f"--etcdlite-port={spec}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--etcdlite-port: not a port or a port range*"])
