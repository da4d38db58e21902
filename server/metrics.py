"""etcd's Prometheus metrics (``GET /metrics``), read from a node's plain counters at scrape time.

Every family has etcd 3.5.1's name, type, help text and labels. The core keeps ints and
:class:`~etcdlite.storage.histogram.Observations`; nothing is computed on the request path for a
scrape. Each node gets its own :class:`CollectorRegistry` (several servers may share a process),
made on its first scrape, holding the etcd collector and the process, platform and GC collectors.

Left out, because etcdlite has nothing they could truthfully measure: raft internals (read indexes,
slow applies, apply durations, raft snapshots, WAL bytes), bbolt internals (rebalance, spill, write
phases, open read transactions, db compaction pauses), the v2 store, the gRPC proxy, Go runtime
metrics, per-client-version request counts, health check counts (the HTTP side's), and the grpc.health
service. Constants true on any single member are reported (it leads, has seen one leader change, is no
learner, sends no heartbeats and never applies a leader's snapshot).
"""

from __future__ import annotations

import os
import resource
import weakref
from typing import Iterator

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import (CounterMetricFamily, GaugeMetricFamily,
                                            HistogramMetricFamily, Metric)
from prometheus_client.utils import floatToGoString

from . import ETCD_VERSION
from .api.services import GO_CODES, MethodCounts, call_counts
from .node import DEFAULT_QUOTA_BYTES, Node
from .proto import rpc_pb2
from .storage.histogram import DISK_SECONDS, Observations

#: what etcd 3.5.1 answers GET /metrics with
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: etcd registers these services before go-grpc-prometheus, which then lists all their methods with
#: zero counts; the rest (v3lockpb, v3electionpb) appear once called
PREREGISTERED_SERVICES = tuple(rpc_pb2.DESCRIPTOR.services_by_name.values())
_PREREGISTERED_NAMES = frozenset(service.full_name for service in PREREGISTERED_SERVICES)

_GRPC_LABELS = ["grpc_method", "grpc_service", "grpc_type"]

#: name -> (type, help) of every family exposed, as etcd 3.5.1 declares it
FAMILIES: dict[str, tuple[str, str]] = {
    'etcd_server_has_leader': ('gauge', 'Whether or not a leader exists. 1 is existence, 0 is not.'),
    'etcd_server_is_leader': ('gauge', 'Whether or not this member is a leader. 1 if is, 0 otherwise.'),
    'etcd_server_leader_changes_seen_total': ('counter', 'The number of leader changes seen.'),
    'etcd_server_is_learner': ('gauge', 'Whether or not this member is a learner. 1 if is, 0 otherwise.'),
    'etcd_server_heartbeat_send_failures_total': ('counter', 'The total number of leader heartbeat send failures (likely overloaded from slow disk).'),
    'etcd_server_snapshot_apply_in_progress_total': ('gauge', '1 if the server is applying the incoming snapshot. 0 if none.'),
    'etcd_server_proposals_committed_total': ('gauge', 'The total number of consensus proposals committed.'),
    'etcd_server_proposals_applied_total': ('gauge', 'The total number of consensus proposals applied.'),
    'etcd_server_proposals_pending': ('gauge', 'The current number of pending proposals to commit.'),
    'etcd_server_proposals_failed_total': ('counter', 'The total number of failed proposals seen.'),
    'etcd_server_id': ('gauge', "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID."),
    'etcd_server_version': ('gauge', "Which version is running. 1 for 'server_version' label with current version."),
    'etcd_cluster_version': ('gauge', "Which version is running. 1 for 'cluster_version' label with current cluster version"),
    'etcd_server_quota_backend_bytes': ('gauge', 'Current backend storage quota size in bytes.'),
    'etcd_debugging_auth_revision': ('gauge', 'The current revision of auth store.'),
    'etcd_debugging_server_lease_expired_total': ('counter', 'The total number of expired leases.'),
    'etcd_mvcc_db_total_size_in_bytes': ('gauge', 'Total size of the underlying database physically allocated in bytes.'),
    'etcd_mvcc_db_total_size_in_use_in_bytes': ('gauge', 'Total size of the underlying database logically in use in bytes.'),
    'etcd_debugging_mvcc_keys_total': ('gauge', 'Total number of keys.'),
    'etcd_debugging_mvcc_current_revision': ('gauge', 'The current revision of store.'),
    'etcd_debugging_mvcc_compact_revision': ('gauge', 'The revision of the last compaction in store.'),
    'etcd_mvcc_range_total': ('counter', 'Total number of ranges seen by this member.'),
    'etcd_debugging_mvcc_range_total': ('counter', 'Total number of ranges seen by this member.'),
    'etcd_mvcc_put_total': ('counter', 'Total number of puts seen by this member.'),
    'etcd_mvcc_delete_total': ('counter', 'Total number of deletes seen by this member.'),
    'etcd_mvcc_txn_total': ('counter', 'Total number of txns seen by this member.'),
    'etcd_debugging_mvcc_total_put_size_in_bytes': ('gauge', 'The total size of put kv pairs seen by this member.'),
    'etcd_debugging_mvcc_db_compaction_keys_total': ('counter', 'Total number of db keys compacted.'),
    'etcd_debugging_mvcc_db_compaction_last': ('gauge', 'The unix time of the last db compaction. Resets to 0 on start.'),
    'etcd_debugging_mvcc_index_compaction_pause_duration_milliseconds': ('histogram', 'Bucketed histogram of index compaction pause duration.'),
    'etcd_debugging_mvcc_db_compaction_total_duration_milliseconds': ('histogram', 'Bucketed histogram of db compaction total duration.'),
    'etcd_debugging_mvcc_watch_stream_total': ('gauge', 'Total number of watch streams.'),
    'etcd_debugging_mvcc_watcher_total': ('gauge', 'Total number of watchers.'),
    'etcd_debugging_mvcc_slow_watcher_total': ('gauge', 'Total number of unsynced slow watchers.'),
    'etcd_debugging_mvcc_pending_events_total': ('gauge', 'Total number of pending events to be sent.'),
    'etcd_debugging_mvcc_events_total': ('counter', 'Total number of events sent by this member.'),
    'etcd_mvcc_hash_duration_seconds': ('histogram', 'The latency distribution of storage hash operation.'),
    'etcd_mvcc_hash_rev_duration_seconds': ('histogram', 'The latency distribution of storage hash by revision operation.'),
    'etcd_debugging_lease_granted_total': ('counter', 'The total number of granted leases.'),
    'etcd_debugging_lease_revoked_total': ('counter', 'The total number of revoked leases.'),
    'etcd_debugging_lease_renewed_total': ('counter', 'The number of renewed leases seen by the leader.'),
    'etcd_debugging_lease_ttl_total': ('histogram', 'Bucketed histogram of lease TTLs.'),
    'etcd_disk_backend_commit_duration_seconds': ('histogram', 'The latency distributions of commit called by backend.'),
    'etcd_disk_wal_fsync_duration_seconds': ('histogram', 'The latency distributions of fsync called by WAL.'),
    'etcd_disk_backend_defrag_duration_seconds': ('histogram', 'The latency distribution of backend defragmentation.'),
    'etcd_disk_defrag_inflight': ('gauge', 'Whether or not defrag is active on the member. 1 means active, 0 means not.'),
    'etcd_network_client_grpc_received_bytes_total': ('counter', 'The total number of bytes received from grpc clients.'),
    'etcd_network_client_grpc_sent_bytes_total': ('counter', 'The total number of bytes sent to grpc clients.'),
    'os_fd_used': ('gauge', 'The number of used file descriptors.'),
    'os_fd_limit': ('gauge', 'The file descriptor limit.'),
    'grpc_server_started_total': ('counter', 'Total number of RPCs started on the server.'),
    'grpc_server_handled_total': ('counter', 'Total number of RPCs completed on the server, regardless of success or failure.'),
    'grpc_server_msg_received_total': ('counter', 'Total number of RPC stream messages received on the server.'),
    'grpc_server_msg_sent_total': ('counter', 'Total number of gRPC stream messages sent by the server.'),
}

_CLUSTER_VERSION = ".".join(ETCD_VERSION.split(".")[:2])
_NO_DISK = Observations(DISK_SECONDS)


def render_metrics(node: Node) -> tuple[bytes, str]:
    """The body and content type of ``GET /metrics`` for ``node``."""
    return generate_latest(_registry(node)), CONTENT_TYPE


_REGISTRIES: "weakref.WeakKeyDictionary[Node, CollectorRegistry]" = weakref.WeakKeyDictionary()


def _registry(node: Node) -> CollectorRegistry:
    registry = _REGISTRIES.get(node)
    if registry is None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(EtcdCollector(node))
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        _REGISTRIES[node] = registry
    return registry


def _family(name: str, labels: list[str] | None = None) -> Metric:
    kind, help_text = FAMILIES[name]
    if kind == "counter":
        return CounterMetricFamily(name, help_text, labels=labels)
    if kind == "gauge":
        return GaugeMetricFamily(name, help_text, labels=labels)
    return HistogramMetricFamily(name, help_text, labels=labels)


def _value(name: str, value: float) -> Metric:
    family = _family(name)
    family.add_metric([], value)
    return family


def _labelled(name: str, label: str, value: str) -> Metric:
    """etcd's "1 for the label with the current value" gauges."""
    family = _family(name, [label])
    family.add_metric([value], 1)
    return family


def _histogram(name: str, observations: Observations) -> Metric:
    family = _family(name)
    counts = list(observations.counts)  # a writer thread may be adding to it
    buckets = []
    cumulative = 0
    for bound, count in zip(observations.bounds, counts):
        cumulative += count
        buckets.append((_go_float(bound), cumulative))
    buckets.append(("+Inf", cumulative + counts[-1]))
    family.add_metric([], buckets, observations.total)
    return family


def _go_float(value: float) -> str:
    """A bucket bound as Go's client writes its ``le`` label (strconv 'g', shortest): "1", not "1.0"."""
    text = floatToGoString(value)
    return text[:-2] if text.endswith(".0") else text


class EtcdCollector:
    """etcd's own families for one node (held weakly: a stopped node's registry just goes empty)."""

    def __init__(self, node: Node) -> None:
        self._node = weakref.ref(node)

    def collect(self) -> Iterator[Metric]:
        node = self._node()
        if node is None:
            return
        yield from _server(node)
        yield from _mvcc(node)
        yield from _watch(node)
        yield from _lease(node)
        yield from _disk(node)
        yield from _grpc(node)
        yield from _os()


def _server(node: Node) -> Iterator[Metric]:
    stats = node.stats
    yield _value("etcd_server_has_leader", 1)
    yield _value("etcd_server_is_leader", 1)
    yield _value("etcd_server_leader_changes_seen_total", 1)
    yield _value("etcd_server_is_learner", 0)
    yield _value("etcd_server_heartbeat_send_failures_total", 0)
    yield _value("etcd_server_snapshot_apply_in_progress_total", 0)
    # every applied write is one raft entry, committed and applied at once (as Status reports)
    yield _value("etcd_server_proposals_committed_total", node.raft_index)
    yield _value("etcd_server_proposals_applied_total", node.raft_index)
    yield _value("etcd_server_proposals_pending", stats.pending_proposals)
    yield _value("etcd_server_proposals_failed_total", stats.failed_proposals)
    yield _labelled("etcd_server_id", "server_id", format(node.member_id, "x"))
    yield _labelled("etcd_server_version", "server_version", ETCD_VERSION)
    yield _labelled("etcd_cluster_version", "cluster_version", _CLUSTER_VERSION)
    yield _value("etcd_server_quota_backend_bytes", node.config.quota_backend_bytes or DEFAULT_QUOTA_BYTES)
    yield _value("etcd_debugging_auth_revision", node.auth.revision)
    yield _value("etcd_debugging_server_lease_expired_total", stats.expired_leases)


def _mvcc(node: Node) -> Iterator[Metric]:
    store, stats = node.store, node.stats
    counts = store.counts
    allocated, in_use = node.db_size()
    yield _value("etcd_mvcc_db_total_size_in_bytes", allocated)
    yield _value("etcd_mvcc_db_total_size_in_use_in_bytes", in_use)
    yield _value("etcd_debugging_mvcc_keys_total", store.live_keys)
    yield _value("etcd_debugging_mvcc_current_revision", store.current_revision)
    yield _value("etcd_debugging_mvcc_compact_revision", store.compact_revision)
    yield _value("etcd_mvcc_range_total", counts.ranges)
    yield _value("etcd_debugging_mvcc_range_total", counts.ranges)
    yield _value("etcd_mvcc_put_total", counts.puts)
    yield _value("etcd_mvcc_delete_total", counts.deletes)
    yield _value("etcd_mvcc_txn_total", counts.txns)
    yield _value("etcd_debugging_mvcc_total_put_size_in_bytes", counts.put_bytes)
    yield _value("etcd_debugging_mvcc_db_compaction_keys_total", counts.compacted_keys)
    yield _value("etcd_debugging_mvcc_db_compaction_last", stats.last_compaction)
    yield _histogram("etcd_debugging_mvcc_index_compaction_pause_duration_milliseconds",
                     stats.index_compaction_ms)
    yield _histogram("etcd_debugging_mvcc_db_compaction_total_duration_milliseconds",
                     stats.db_compaction_ms)
    yield _histogram("etcd_mvcc_hash_duration_seconds", stats.hash_seconds)
    yield _histogram("etcd_mvcc_hash_rev_duration_seconds", stats.hash_kv_seconds)


def _watch(node: Node) -> Iterator[Metric]:
    hub = node.watch_hub
    yield _value("etcd_debugging_mvcc_watch_stream_total", hub.stream_count())
    yield _value("etcd_debugging_mvcc_watcher_total", hub.watcher_count())
    yield _value("etcd_debugging_mvcc_slow_watcher_total", hub.slow_watcher_count())
    yield _value("etcd_debugging_mvcc_pending_events_total", hub.queued_event_count())
    yield _value("etcd_debugging_mvcc_events_total", hub.counts.events_sent)


def _lease(node: Node) -> Iterator[Metric]:
    counts = node.lessor.counts
    yield _value("etcd_debugging_lease_granted_total", counts.granted)
    yield _value("etcd_debugging_lease_revoked_total", counts.revoked)
    yield _value("etcd_debugging_lease_renewed_total", counts.renewed)
    yield _histogram("etcd_debugging_lease_ttl_total", counts.ttls)


def _disk(node: Node) -> Iterator[Metric]:
    backend = node.backend  # the memory backend has no disk: nothing observed
    yield _histogram("etcd_disk_backend_commit_duration_seconds",
                     getattr(backend, "commit_seconds", _NO_DISK))
    yield _histogram("etcd_disk_wal_fsync_duration_seconds", getattr(backend, "fsync_seconds", _NO_DISK))
    yield _histogram("etcd_disk_backend_defrag_duration_seconds", node.stats.defrag_seconds)
    yield _value("etcd_disk_defrag_inflight", int(node.stats.defragmenting))


def _grpc(node: Node) -> Iterator[Metric]:
    counts = call_counts(node)
    yield _value("etcd_network_client_grpc_received_bytes_total", counts.received_bytes)
    yield _value("etcd_network_client_grpc_sent_bytes_total", counts.sent_bytes)
    rows = dict(counts.methods)
    for service in PREREGISTERED_SERVICES:
        for method in service.methods:
            if (service.full_name, method.name) not in rows:
                rows[(service.full_name, method.name)] = counts.of(service, method)
    started = _family("grpc_server_started_total", _GRPC_LABELS)
    received = _family("grpc_server_msg_received_total", _GRPC_LABELS)
    sent = _family("grpc_server_msg_sent_total", _GRPC_LABELS)
    handled = _family("grpc_server_handled_total", ["grpc_code"] + _GRPC_LABELS)
    ordered: list[MethodCounts] = sorted(rows.values(), key=lambda row: (row.method, row.service))
    for row in ordered:
        # a service etcd does not pre-register has a series only once something counted it
        listed = row.service in _PREREGISTERED_NAMES
        labels = [row.method, row.service, row.type]
        for family, value in ((started, row.started), (received, row.received), (sent, row.sent)):
            if listed or value:
                family.add_metric(labels, value)
    for code in sorted(GO_CODES.values()):
        for row in ordered:
            value = row.handled[code]
            if value or row.service in _PREREGISTERED_NAMES:
                handled.add_metric([code, row.method, row.service, row.type], value)
    yield from (handled, received, sent, started)


def _os() -> Iterator[Metric]:
    try:
        used = len(os.listdir("/proc/self/fd"))
    except OSError:  # not Linux: etcd does not report these either
        return
    yield _value("os_fd_used", used)
    yield _value("os_fd_limit", resource.getrlimit(resource.RLIMIT_NOFILE)[0])
