"""Prometheus metrics: etcd 3.5.1's families, filled from the core's counters at scrape time, and the
call counts of every etcd method (go-grpc-prometheus's), from gRPC and from direct handler calls."""

from __future__ import annotations

import asyncio
import urllib.request

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from etcd_targets import start_target
from etcdlite.api.services import etcd_services
from etcdlite.auth.caller import Caller
from etcdlite.clock import ManualClock
from etcdlite.embed import EtcdLite
from etcdlite.metrics import CONTENT_TYPE, render_metrics
from etcdlite.proto import rpc_pb2, rpc_pb2_grpc, v3lock_pb2, v3lock_pb2_grpc
from etcdlite.storage.histogram import DISK_SECONDS

ETCD_CODES = {"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
              "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
              "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss",
              "Unauthenticated"}


class Scrape:
    """One parsed scrape: families by name, and sample values by (sample name, labels)."""

    def __init__(self, text: str) -> None:
        self.families = {family.name: family for family in text_string_to_metric_families(text)}
        self.values = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                       for family in self.families.values() for sample in family.samples}

    def value(self, name: str, **labels: str) -> float:
        return self.values[(name, tuple(sorted(labels.items())))]

    def get(self, name: str, **labels: str) -> float | None:
        return self.values.get((name, tuple(sorted(labels.items()))))

    def calls(self, method: str, service: str, kind: str = "unary") -> dict[str, float]:
        labels = dict(grpc_method=method, grpc_service=service, grpc_type=kind)
        counts = {what: self.get(f"grpc_server_{what}_total", **labels) or 0
                  for what in ("started", "msg_received", "msg_sent")}
        for code in ETCD_CODES:
            value = self.get("grpc_server_handled_total", grpc_code=code, **labels)
            if value:
                counts[code] = value
        return counts


def scrape(node) -> Scrape:
    body, content_type = render_metrics(node)
    assert content_type == CONTENT_TYPE
    return Scrape(body.decode())


#: the counters etcd's mvcc views move, and the gauges puts and deletes move
MVCC_COUNTS = ("etcd_mvcc_range_total", "etcd_mvcc_put_total", "etcd_mvcc_delete_total",
               "etcd_mvcc_txn_total", "etcd_debugging_mvcc_keys_total",
               "etcd_debugging_mvcc_total_put_size_in_bytes")


def changes(before: Scrape, after: Scrape, names: tuple[str, ...] = MVCC_COUNTS) -> dict[str, float]:
    """The samples of ``names`` whose value changed, with the change."""
    return {name: after.value(name) - before.value(name) for name in names
            if after.value(name) != before.value(name)}


async def _channel(etcd: EtcdLite) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(etcd.endpoint)


def _put(key: bytes, value: bytes = b"v", **options) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=value, **options))


def _version_is(key: bytes, version: int) -> rpc_pb2.Compare:
    return rpc_pb2.Compare(key=key, target=rpc_pb2.Compare.VERSION, version=version)


# -- a fresh server --------------------------------------------------------------------------


def test_fresh_server_reports_a_single_leading_member_and_every_etcd_method_at_zero():
    async def main() -> None:
        async with EtcdLite() as etcd:
            node = etcd.node
            got = scrape(node)
            for name, value in [("etcd_server_has_leader", 1), ("etcd_server_is_leader", 1),
                                ("etcd_server_leader_changes_seen_total", 1),
                                ("etcd_server_is_learner", 0), ("etcd_server_proposals_pending", 0),
                                ("etcd_server_proposals_failed_total", 0),
                                ("etcd_server_quota_backend_bytes", 2 * 1024 ** 3),
                                ("etcd_debugging_mvcc_current_revision", 1),
                                ("etcd_debugging_mvcc_compact_revision", -1),
                                ("etcd_debugging_mvcc_keys_total", 0)]:
                assert got.value(name) == value, name
            assert got.value("etcd_server_proposals_committed_total") == node.raft_index
            assert got.value("etcd_server_id", server_id=format(node.member_id, "x")) == 1
            assert got.value("etcd_cluster_version", cluster_version="3.5") == 1
            assert got.value("process_resident_memory_bytes") > 0  # etcdctl check datascale
            # go-grpc-prometheus lists every method of etcdserverpb with every code at zero ...
            for service in rpc_pb2.DESCRIPTOR.services_by_name.values():
                for method in service.methods:
                    kind = {(False, False): "unary", (False, True): "server_stream",
                            (True, True): "bidi_stream"}[(method.client_streaming,
                                                          method.server_streaming)]
                    labels = dict(grpc_method=method.name, grpc_service=service.full_name,
                                  grpc_type=kind)
                    assert got.value("grpc_server_started_total", **labels) == 0
                    for code in ETCD_CODES:
                        assert got.value("grpc_server_handled_total", grpc_code=code, **labels) == 0
            # ... but not the services etcd registers after it
            assert not any("v3lockpb" in str(labels) or "v3electionpb" in str(labels)
                           for _, labels in got.values)

    asyncio.run(main())


def test_quota_gauge_is_the_configured_quota():
    async def main() -> None:
        async with EtcdLite(quota_backend_bytes=1 << 20) as etcd:
            assert scrape(etcd.node).value("etcd_server_quota_backend_bytes") == 1 << 20

    asyncio.run(main())


# -- mvcc -------------------------------------------------------------------------------------


def test_mvcc_counters_count_as_etcds_read_and_write_views_do():
    """The deltas real etcd 3.5.1 shows for each request (observed)."""
    async def main() -> None:
        async with EtcdLite() as etcd:
            channel = await _channel(etcd)
            kv = rpc_pb2_grpc.KVStub(channel)
            steps = [
                (lambda: kv.Put(rpc_pb2.PutRequest(key=b"a", value=b"1")),
                 {"etcd_mvcc_put_total": 1, "etcd_debugging_mvcc_keys_total": 1,
                  "etcd_debugging_mvcc_total_put_size_in_bytes": 2}),
                (lambda: kv.Put(rpc_pb2.PutRequest(key=b"a", value=b"22", prev_kv=True)),
                 {"etcd_mvcc_put_total": 1, "etcd_mvcc_range_total": 1, "etcd_mvcc_txn_total": 1,
                  "etcd_debugging_mvcc_total_put_size_in_bytes": 3}),
                (lambda: kv.Txn(rpc_pb2.TxnRequest(compare=[_version_is(b"a", 2)], success=[_put(b"b", b"x")])),
                 {"etcd_mvcc_put_total": 1, "etcd_mvcc_range_total": 1,
                  "etcd_debugging_mvcc_keys_total": 1, "etcd_debugging_mvcc_total_put_size_in_bytes": 2}),
                (lambda: kv.Txn(rpc_pb2.TxnRequest(success=[_put(b"c", b"", ignore_value=True)])),
                 {}),  # refused: the key does not exist (only the check's range is counted)
                (lambda: kv.Txn(rpc_pb2.TxnRequest(success=[_put(b"b", b"", ignore_value=True)])),
                 {"etcd_mvcc_put_total": 1, "etcd_mvcc_range_total": 2, "etcd_mvcc_txn_total": 1,
                  "etcd_debugging_mvcc_total_put_size_in_bytes": 2}),
                (lambda: kv.Txn(rpc_pb2.TxnRequest(compare=[_version_is(b"a", 2)], success=[
                    rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=b"b"))])),
                 {"etcd_mvcc_range_total": 2, "etcd_mvcc_txn_total": 1}),
                (lambda: kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"a", range_end=b"c", prev_kv=True)),
                 {"etcd_mvcc_delete_total": 1, "etcd_mvcc_range_total": 1, "etcd_mvcc_txn_total": 1,
                  "etcd_debugging_mvcc_keys_total": -2}),
                (lambda: kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"zz")), {"etcd_mvcc_delete_total": 1}),
            ]
            for call, expected in steps:
                before = scrape(etcd.node)
                try:
                    await call()
                except grpc.RpcError as exc:
                    assert not expected and exc.code() == grpc.StatusCode.INVALID_ARGUMENT
                    expected = {"etcd_mvcc_range_total": 1}
                assert changes(before, scrape(etcd.node)) == expected
            after = scrape(etcd.node)
            assert after.value("etcd_debugging_mvcc_range_total") == after.value("etcd_mvcc_range_total")
            assert after.value("etcd_debugging_mvcc_current_revision") == etcd.node.store.current_revision
            await channel.close()

    asyncio.run(main())


def test_compaction_moves_the_compaction_metrics():
    async def main() -> None:
        async with EtcdLite() as etcd:
            channel = await _channel(etcd)
            kv = rpc_pb2_grpc.KVStub(channel)
            for value in (b"1", b"2", b"3"):
                await kv.Put(rpc_pb2.PutRequest(key=b"k", value=value))
            before = scrape(etcd.node)
            await kv.Compact(rpc_pb2.CompactionRequest(revision=4))
            after = scrape(etcd.node)
            assert after.value("etcd_debugging_mvcc_compact_revision") == 4
            assert after.value("etcd_debugging_mvcc_db_compaction_keys_total") == 2
            assert after.value("etcd_debugging_mvcc_db_compaction_last") > 1.6e9
            assert after.value("etcd_mvcc_range_total") - before.value("etcd_mvcc_range_total") == 1
            for name in ("etcd_debugging_mvcc_index_compaction_pause_duration_milliseconds",
                         "etcd_debugging_mvcc_db_compaction_total_duration_milliseconds"):
                assert after.value(name + "_count") == 1
            await channel.close()

    asyncio.run(main())


def test_counters_survive_a_reset_and_gauges_start_over():
    async def main() -> None:
        async with EtcdLite() as etcd:
            channel = await _channel(etcd)
            kv = rpc_pb2_grpc.KVStub(channel)
            await kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v"))
            await rpc_pb2_grpc.LeaseStub(channel).LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60))
            await etcd.reset_async()
            got = scrape(etcd.node)
            assert got.value("etcd_mvcc_put_total") == 1
            assert got.value("etcd_debugging_lease_granted_total") == 1
            assert got.value("etcd_debugging_mvcc_keys_total") == 0
            assert got.value("etcd_debugging_mvcc_current_revision") == 1
            await channel.close()

    asyncio.run(main())


# -- leases -----------------------------------------------------------------------------------


def test_lease_counters_and_ttl_histogram():
    async def main() -> None:
        clock = ManualClock()
        async with EtcdLite(clock=clock) as etcd:
            channel = await _channel(etcd)
            kv, lease = rpc_pb2_grpc.KVStub(channel), rpc_pb2_grpc.LeaseStub(channel)
            short = await lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=1))  # raised to 2 s
            await kv.Put(rpc_pb2.PutRequest(key=b"l1", value=b"1", lease=short.ID))
            await kv.Put(rpc_pb2.PutRequest(key=b"l2", value=b"1", lease=short.ID))
            before = scrape(etcd.node)
            await lease.LeaseRevoke(rpc_pb2.LeaseRevokeRequest(ID=short.ID))
            after = scrape(etcd.node)
            assert changes(before, after) == {"etcd_mvcc_delete_total": 2, "etcd_mvcc_txn_total": 1,
                                              "etcd_debugging_mvcc_keys_total": -2}
            assert after.value("etcd_debugging_lease_revoked_total") == 1
            assert after.value("etcd_debugging_lease_ttl_total_sum") == 2
            assert after.value("etcd_debugging_lease_ttl_total_bucket", le="1") == 0
            assert after.value("etcd_debugging_lease_ttl_total_bucket", le="2") == 1

            long = await lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=30))
            requests = [rpc_pb2.LeaseKeepAliveRequest(ID=long.ID)] * 2
            answers = [answer.TTL async for answer in lease.LeaseKeepAlive(iter(requests))]
            assert answers == [30, 30]
            got = scrape(etcd.node)
            assert got.value("etcd_debugging_lease_granted_total") == 2
            assert got.value("etcd_debugging_lease_renewed_total") == 2
            assert got.calls("LeaseKeepAlive", "etcdserverpb.Lease", "bidi_stream") == {
                "started": 1, "msg_received": 2, "msg_sent": 2, "OK": 1}

            assert await etcd.advance_async(31) == 1
            got = scrape(etcd.node)
            assert got.value("etcd_debugging_server_lease_expired_total") == 1
            assert got.value("etcd_debugging_lease_revoked_total") == 2
            await channel.close()

    asyncio.run(main())


# -- watches ----------------------------------------------------------------------------------


async def _until(condition, what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


def test_watch_gauges_events_and_a_cancelled_stream():
    async def main() -> None:
        async with EtcdLite() as etcd:
            channel = await _channel(etcd)
            kv, watch = rpc_pb2_grpc.KVStub(channel), rpc_pb2_grpc.WatchStub(channel)
            call = watch.Watch()
            await call.write(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"w")))
            assert (await call.read()).created
            await kv.Put(rpc_pb2.PutRequest(key=b"w", value=b"1"))
            assert len((await call.read()).events) == 1
            got = scrape(etcd.node)
            assert got.value("etcd_debugging_mvcc_watch_stream_total") == 1
            assert got.value("etcd_debugging_mvcc_watcher_total") == 1
            assert got.value("etcd_debugging_mvcc_slow_watcher_total") == 0
            assert got.value("etcd_debugging_mvcc_pending_events_total") == 0
            assert got.value("etcd_debugging_mvcc_events_total") == 1
            assert got.calls("Watch", "etcdserverpb.Watch", "bidi_stream") == {
                "started": 1, "msg_received": 1, "msg_sent": 2}

            call.cancel()
            await _until(lambda: scrape(etcd.node).calls("Watch", "etcdserverpb.Watch", "bidi_stream")
                         .get("Canceled"), "the cancelled watch is counted")
            got = scrape(etcd.node)
            assert got.value("etcd_debugging_mvcc_watch_stream_total") == 0
            assert got.value("etcd_debugging_mvcc_watcher_total") == 0
            assert got.calls("Watch", "etcdserverpb.Watch", "bidi_stream") == {
                "started": 1, "msg_received": 1, "msg_sent": 2, "Canceled": 1}
            await channel.close()

    asyncio.run(main())


def test_watcher_started_in_the_past_is_slow_until_it_caught_up():
    async def main() -> None:
        async with EtcdLite() as etcd:
            node = etcd.node
            await node.put(Caller(None), _plain_put(b"k"))
            session = node.open_watch(Caller(None))
            session.create(b"k", b"", 1, (), False, False, 0, False)
            # the catch-up response sits in the stream's queue until its sender takes it
            got = scrape(node)
            assert got.value("etcd_debugging_mvcc_pending_events_total") == 1
            while not session.outbox.empty():
                session.taken(session.outbox.get_nowait())
            got = scrape(node)
            assert got.value("etcd_debugging_mvcc_pending_events_total") == 0
            assert got.value("etcd_debugging_mvcc_events_total") == 1
            assert got.value("etcd_debugging_mvcc_slow_watcher_total") == 0
            session.close()

    asyncio.run(main())


def _plain_put(key: bytes):
    from etcdlite.mvcc.requests import PutRequest
    return PutRequest(key, b"v")


# -- call counts ------------------------------------------------------------------------------


def test_call_counts_by_method_and_code():
    async def main() -> None:
        async with EtcdLite() as etcd:
            channel = await _channel(etcd)
            kv = rpc_pb2_grpc.KVStub(channel)
            await kv.Put(rpc_pb2.PutRequest(key=b"a", value=b"1"))
            await kv.Put(rpc_pb2.PutRequest(key=b"a", value=b"2"))
            await kv.Range(rpc_pb2.RangeRequest(key=b"a"))
            await kv.Compact(rpc_pb2.CompactionRequest(revision=3))
            with pytest.raises(grpc.RpcError) as refused:
                await kv.Range(rpc_pb2.RangeRequest(key=b"a", revision=2))
            assert refused.value.code() == grpc.StatusCode.OUT_OF_RANGE
            with pytest.raises(grpc.RpcError):
                await kv.Put(rpc_pb2.PutRequest(key=b""))
            got = scrape(etcd.node)
            assert got.calls("Range", "etcdserverpb.KV") == {
                "started": 2, "msg_received": 2, "msg_sent": 1, "OK": 1, "OutOfRange": 1}
            assert got.calls("Put", "etcdserverpb.KV") == {
                "started": 3, "msg_received": 3, "msg_sent": 2, "OK": 2, "InvalidArgument": 1}
            assert got.calls("Compact", "etcdserverpb.KV") == {
                "started": 1, "msg_received": 1, "msg_sent": 1, "OK": 1}
            assert got.value("etcd_network_client_grpc_received_bytes_total") > 0
            assert got.value("etcd_network_client_grpc_sent_bytes_total") > 0
            await channel.close()

    asyncio.run(main())


def test_unimplemented_and_malformed_calls_count_as_grpc_go_counts_them():
    """A unary request grpc-go cannot decode never reaches the interceptors; a stream's does."""
    async def main() -> None:
        async with EtcdLite() as etcd:
            channel = await _channel(etcd)
            raw = dict(request_serializer=lambda data: data, response_deserializer=lambda data: data)
            with pytest.raises(grpc.RpcError) as refused:
                await channel.unary_unary("/etcdserverpb.Maintenance/Downgrade", **raw)(b"")
            assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
            with pytest.raises(grpc.RpcError) as refused:
                await channel.unary_unary("/etcdserverpb.KV/Range", **raw)(b"\xff\xff\xff")
            assert refused.value.code() == grpc.StatusCode.INTERNAL
            call = channel.stream_stream("/etcdserverpb.Watch/Watch", **raw)(iter([b"\xff\xff"]))
            with pytest.raises(grpc.RpcError) as refused:
                async for _ in call:
                    pass
            assert refused.value.code() == grpc.StatusCode.INTERNAL
            got = scrape(etcd.node)
            assert got.calls("Downgrade", "etcdserverpb.Maintenance") == {
                "started": 1, "msg_received": 1, "msg_sent": 0, "Unimplemented": 1}
            assert got.calls("Range", "etcdserverpb.KV") == {
                "started": 0, "msg_received": 0, "msg_sent": 0}
            assert got.calls("Watch", "etcdserverpb.Watch", "bidi_stream") == {
                "started": 1, "msg_received": 0, "msg_sent": 0, "Internal": 1}
            await channel.close()

    asyncio.run(main())


def test_lock_calls_appear_once_made():
    async def main() -> None:
        async with EtcdLite() as etcd:
            channel = await _channel(etcd)
            grant = await rpc_pb2_grpc.LeaseStub(channel).LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60))
            await v3lock_pb2_grpc.LockStub(channel).Lock(v3lock_pb2.LockRequest(name=b"n", lease=grant.ID))
            got = scrape(etcd.node)
            assert got.calls("Lock", "v3lockpb.Lock") == {
                "started": 1, "msg_received": 1, "msg_sent": 1, "OK": 1}
            assert got.get("grpc_server_handled_total", grpc_code="Unknown", grpc_method="Lock",
                           grpc_service="v3lockpb.Lock", grpc_type="unary") is None
            assert got.get("grpc_server_started_total", grpc_method="Unlock",
                           grpc_service="v3lockpb.Lock", grpc_type="unary") is None
            await channel.close()

    asyncio.run(main())


def test_direct_handler_calls_count_with_the_grpc_calls():
    """The gateway calls the same handlers: its calls land in the same counts."""
    async def main() -> None:
        async with EtcdLite() as etcd:
            channel = await _channel(etcd)
            await rpc_pb2_grpc.KVStub(channel).Put(rpc_pb2.PutRequest(key=b"a", value=b"1"))
            handlers = {served.descriptor.name: served.handlers for served in etcd_services(etcd.node)}
            await handlers["KV"].Range(rpc_pb2.RangeRequest(key=b"a"), Caller(None))
            with pytest.raises(Exception):
                await handlers["KV"].Range(rpc_pb2.RangeRequest(key=b"a", revision=99), Caller(None))
            status = [message async for message in
                      handlers["Maintenance"].Snapshot(rpc_pb2.SnapshotRequest(), Caller(None))]
            got = scrape(etcd.node)
            assert got.calls("Range", "etcdserverpb.KV") == {
                "started": 2, "msg_received": 2, "msg_sent": 1, "OK": 1, "OutOfRange": 1}
            assert got.calls("Put", "etcdserverpb.KV")["OK"] == 1
            assert got.calls("Snapshot", "etcdserverpb.Maintenance", "server_stream") == {
                "started": 1, "msg_received": 1, "msg_sent": len(status), "OK": 1}
            await channel.close()

    asyncio.run(main())


# -- disk -------------------------------------------------------------------------------------


def test_durable_commits_fill_the_disk_histograms(tmp_path):
    async def main() -> None:
        async with EtcdLite(data_dir=str(tmp_path / "data")) as etcd:
            channel = await _channel(etcd)
            kv = rpc_pb2_grpc.KVStub(channel)
            before = scrape(etcd.node)
            for i in range(5):
                await kv.Put(rpc_pb2.PutRequest(key=b"k%d" % i, value=b"v"))
            await rpc_pb2_grpc.MaintenanceStub(channel).Defragment(rpc_pb2.DefragmentRequest())
            got = scrape(etcd.node)
            for name in ("etcd_disk_backend_commit_duration_seconds",
                         "etcd_disk_wal_fsync_duration_seconds"):
                count = got.value(name + "_count")
                assert count - before.value(name + "_count") >= 1  # writes may share a commit
                assert got.value(name + "_sum") > 0
                bounds = [bound for (sample, labels), _ in got.values.items()
                          if sample == name + "_bucket" for key, bound in labels]
                assert bounds == [str(bound) for bound in DISK_SECONDS] + ["+Inf"]
                assert got.value(name + "_bucket", le="+Inf") == count
                cumulative = [got.value(name + "_bucket", le=bound) for bound in bounds]
                assert cumulative == sorted(cumulative)
            assert got.value("etcd_disk_backend_defrag_duration_seconds_count") == 1
            assert got.value("etcd_disk_defrag_inflight") == 0
            allocated = got.value("etcd_mvcc_db_total_size_in_bytes")
            assert 0 < got.value("etcd_mvcc_db_total_size_in_use_in_bytes") <= allocated
            await channel.close()

    asyncio.run(main())


def test_each_node_has_its_own_registry():
    async def main() -> None:
        async with EtcdLite() as first, EtcdLite() as second:
            await first.node.put(Caller(None), _plain_put(b"k"))
            assert scrape(first.node).value("etcd_mvcc_put_total") == 1
            assert scrape(second.node).value("etcd_mvcc_put_total") == 0

    asyncio.run(main())


# -- against real etcd 3.5.1 --------------------------------------------------------------------


def _http_scrape(url: str) -> Scrape:
    with urllib.request.urlopen(url, timeout=10) as reply:
        assert reply.headers["Content-Type"] == CONTENT_TYPE
        return Scrape(reply.read().decode())


def _shape(got: Scrape) -> dict[str, tuple[str, str, frozenset[str]]]:
    """Each etcd family's type, help text and label names (process_* are etcd's too)."""
    return {name: (family.type, family.documentation,
                   frozenset(key for sample in family.samples for key in sample.labels
                             if key not in ("le", "quantile")))
            for name, family in got.families.items() if not name.startswith("python_")}


@pytest.fixture(scope="module")
def real_etcd_35_scrape() -> Scrape:
    """A fresh real etcd 3.5.1's /metrics."""
    real = start_target("etcd-3.5")
    try:
        return _http_scrape(real.url + "/metrics")
    finally:
        real.close()


@pytest.mark.parametrize("name", ["etcdlite", "etcdlite-lmdb"])
def test_every_family_matches_real_etcd_35(real_etcd_35_scrape, name, tmp_path):
    """Scraped from the client port, as Prometheus does: every family etcdlite exposes is one of
    etcd 3.5.1's, with its type, help text, label names and bucket bounds."""
    theirs = real_etcd_35_scrape
    target = start_target(name, tmp_path)
    try:
        ours = _http_scrape(target.url + "/metrics")
    finally:
        target.close()
    expected = _shape(theirs)
    for family, shape in _shape(ours).items():
        assert family in expected, f"{family} is no etcd 3.5.1 family"
        assert shape == expected[family], family
    # the same fresh-server constants, and the same pre-registered call series (grpc.health.v1 aside)
    for family in ("etcd_server_has_leader", "etcd_server_is_leader", "etcd_server_is_learner",
                   "etcd_server_leader_changes_seen_total", "etcd_server_quota_backend_bytes",
                   "etcd_debugging_mvcc_compact_revision", "etcd_disk_defrag_inflight"):
        assert ours.value(family) == theirs.value(family), family
    for family in ("grpc_server_started_total", "grpc_server_handled_total"):
        series = lambda got: {labels for sample, labels in got.values if sample == family
                              and ("grpc_service", "grpc.health.v1.Health") not in labels}
        assert series(ours) == series(theirs)
    for family, metric in ours.families.items():  # etcd's bucket layouts
        if metric.type == "histogram" and not family.startswith("python_"):
            assert [s.labels["le"] for s in metric.samples if s.name.endswith("_bucket")] == \
                [s.labels["le"] for s in theirs.families[family].samples if s.name.endswith("_bucket")]


def test_codes_of_what_handlers_raise():
    from etcdlite import errors
    from etcdlite.api.malformed import MalformedRequest
    from etcdlite.api.services import status_of
    from etcdlite.storage.group_commit import DurabilityError

    assert status_of(errors.COMPACTED()) == "OutOfRange"
    assert status_of(errors.LEASE_NOT_FOUND()) == "NotFound"
    assert status_of(DurabilityError("disk")) == "Unavailable"
    assert status_of(asyncio.CancelledError()) == "Canceled"
    assert status_of(MalformedRequest("bad")) == "Internal"
    assert status_of(ValueError("bug")) == "Unknown"
