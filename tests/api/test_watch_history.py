"""Watch start_revision: replaying history, starting in the future, and compaction
(reference §3.4, §7.2, §7.3, §7.5, §11.3, §12.13, §12.17).

A catching-up watcher may get several revisions in one response (etcd batches history reads);
these tests assert the event sequence, and that each catch-up response carries the store revision
at the time of the read (the current one, as nothing is written meanwhile).
"""

from __future__ import annotations

from etcd_api_helpers import (CLUSTER_ID, COMPACTED, DELETE, FRESH_RAFT_TERM, MEMBER_ID, PUT,
                              WATCH_DUPLICATE_ID, WatchStream, delete, event_tuples, op_delete,
                              op_put, put, response_shape, txn)
from etcdlite.proto import rpc_pb2


def _compact(target, revision: int) -> None:
    target.kv.Compact(rpc_pb2.CompactionRequest(revision=revision, physical=True))


def _catch_up(stream: WatchStream, count: int, watch_id: int, current: int) -> list:
    """Read a catching-up watcher's events: every response is for ``watch_id`` with header
    revision ``current``."""
    events, responses = stream.events(count, watch_id)
    for response in responses:
        assert response_shape(response) == (current, watch_id, False, False, 0, "")
    return event_tuples(events)


def _history(target) -> None:
    put(target, b"a", b"1")   # 2
    put(target, b"b", b"1")   # 3
    put(target, b"a", b"2")   # 4
    delete(target, b"b")      # 5
    txn(target, success=[op_put(b"c", b"1"), op_put(b"a", b"3")])  # 6


def test_watch_from_a_past_revision_replays_history_inclusive_then_continues_live(target):
    _history(target)
    with WatchStream(target) as stream:
        assert response_shape(stream.watch(b"", b"\x00", start_revision=3, prev_kv=True)) == (
            6, 0, True, False, 0, "")
        assert _catch_up(stream, 5, 0, 6) == [
            (PUT, (b"b", b"1", 3, 3, 1, 0), None),
            (PUT, (b"a", b"2", 2, 4, 2, 0), (b"a", b"1", 2, 2, 1, 0)),
            (DELETE, (b"b", b"", 0, 5, 0, 0), (b"b", b"1", 3, 3, 1, 0)),
            (PUT, (b"c", b"1", 6, 6, 1, 0), None),
            (PUT, (b"a", b"3", 2, 6, 3, 0), (b"a", b"2", 2, 4, 2, 0))]
        put(target, b"d", b"1")  # 7: live again, one response for the revision
        response = stream.next()
        assert response_shape(response) == (7, 0, False, False, 0, "")
        assert event_tuples(response.events) == [(PUT, (b"d", b"1", 7, 7, 1, 0), None)]


def test_watch_from_revision_one_replays_everything_for_its_own_range(target):
    _history(target)
    with WatchStream(target) as stream:
        stream.watch(b"a", start_revision=1)
        assert _catch_up(stream, 3, 0, 6) == [
            (PUT, (b"a", b"1", 2, 2, 1, 0), None),
            (PUT, (b"a", b"2", 2, 4, 2, 0), None),
            (PUT, (b"a", b"3", 2, 6, 3, 0), None)]
        # a watcher on another stream starting at the current revision gets just that revision
    with WatchStream(target) as stream:
        stream.watch(b"a", b"d", start_revision=6)
        assert _catch_up(stream, 2, 0, 6) == [(PUT, (b"c", b"1", 6, 6, 1, 0), None),
                                              (PUT, (b"a", b"3", 2, 6, 3, 0), None)]


def test_watch_from_a_future_revision_delivers_only_events_from_that_revision_on(target):
    put(target, b"a", b"1")  # 2
    with WatchStream(target) as stream:
        assert response_shape(stream.watch(b"a", start_revision=5)) == (2, 0, True, False, 0, "")
        for value in (b"2", b"3", b"4", b"5"):
            put(target, b"a", value)  # 3, 4, 5, 6
        for revision in (5, 6):
            response = stream.next()
            assert response_shape(response) == (revision, 0, False, False, 0, "")
            assert event_tuples(response.events) == [
                (PUT, (b"a", str(revision - 1).encode(), 2, revision, revision - 1, 0), None)]
        stream.expect_nothing(0.3)


def test_watch_below_the_compact_revision_is_created_then_canceled_with_header_revision_zero(
        target):
    _history(target)
    _compact(target, 4)
    with WatchStream(target) as stream:
        for start, watch_id in ((3, 0), (1, 1)):
            stream.create(b"", b"\x00", start_revision=start)
            response = stream.next()
            assert response_shape(response) == (6, watch_id, True, False, 0, "")
            response = stream.next()
            # the compaction cancel: no reason, compact_revision set, header revision 0
            assert response_shape(response) == (0, watch_id, False, True, 4, "")
            assert (response.header.cluster_id, response.header.member_id,
                    response.header.raft_term) == (CLUSTER_ID, MEMBER_ID, FRESH_RAFT_TERM)
            assert not response.events
        # the cancelled watchers are gone: only the new one hears the next revision
        assert response_shape(stream.watch(b"", b"\x00")) == (6, 2, True, False, 0, "")
        put(target, b"e", b"1")  # 7
        response = stream.next()
        assert response_shape(response) == (7, 2, False, False, 0, "")
        stream.expect_nothing(0.3)


def test_watch_canceled_by_compaction_keeps_its_id_until_the_client_cancels_it(target):
    for value in (b"1", b"2", b"3"):
        put(target, b"a", value)  # 2, 3, 4
    _compact(target, 3)
    with WatchStream(target) as stream:
        stream.create(b"a", start_revision=2, watch_id=5)
        assert response_shape(stream.next()) == (4, 5, True, False, 0, "")
        assert response_shape(stream.next()) == (0, 5, False, True, 3, "")
        # the ID stays taken on the stream: re-using it is a duplicate ...
        stream.create(b"a", watch_id=5)
        assert response_shape(stream.next()) == (4, -1, True, True, 0, WATCH_DUPLICATE_ID)
        assert response_shape(stream.watch(b"a")) == (4, 0, True, False, 0, "")
        # ... until the client cancels it, which is acknowledged like any cancel
        stream.cancel(5)
        assert response_shape(stream.next()) == (4, 5, False, True, 0, "")
        assert response_shape(stream.watch(b"a", watch_id=5)) == (4, 5, True, False, 0, "")
        put(target, b"a", b"4")  # 5
        responses = [stream.next(), stream.next()]
        assert sorted(response_shape(r) for r in responses) == [(5, 0, False, False, 0, ""),
                                                                (5, 5, False, False, 0, "")]
        stream.expect_nothing(0.3)


def test_watch_at_exactly_the_compact_revision_replays_its_puts_but_not_its_deletes(target):
    put(target, b"a", b"1")  # 2
    put(target, b"b", b"1")  # 3
    txn(target, success=[op_put(b"c", b"1"), op_delete(b"a"), op_put(b"b", b"2")])  # 4
    put(target, b"d", b"1")  # 5
    _compact(target, 4)
    with WatchStream(target) as stream:
        assert response_shape(stream.watch(b"", b"\x00", start_revision=4, prev_kv=True)) == (
            5, 0, True, False, 0, "")
        # the tombstone of a@4 went with the compaction; c@4 and b@4 are still there. b@4's
        # previous version would be read at revision 3, below the compact revision: omitted
        assert _catch_up(stream, 3, 0, 5) == [(PUT, (b"c", b"1", 4, 4, 1, 0), None),
                                              (PUT, (b"b", b"2", 3, 4, 2, 0), None),
                                              (PUT, (b"d", b"1", 5, 5, 1, 0), None)]
        put(target, b"b", b"3")  # 6: its previous version (revision 4) is readable
        response = stream.next()
        assert response_shape(response) == (6, 0, False, False, 0, "")
        assert event_tuples(response.events) == [
            (PUT, (b"b", b"3", 3, 6, 3, 0), (b"b", b"2", 3, 4, 2, 0))]


def test_watch_with_negative_start_revision_is_rejected_as_compacted_etcdlite_only(
        etcdlite_target):
    # etcd 3.4.23 and 3.5.1 mishandle negative start revisions (-1 makes a live watcher, -2 one
    # that is created and then cancelled with compact_revision -1; observed on both); etcdlite
    # rejects them like 3.4.38+/3.5.24+/3.6.6+ (reference §7.2) - no dual-target check.
    put(etcdlite_target, b"a", b"1")  # 2
    with WatchStream(etcdlite_target) as stream:
        for start in (-1, -2):
            stream.create(b"a", start_revision=start)
            assert response_shape(stream.next()) == (2, -1, True, True, 0, COMPACTED)
        assert response_shape(stream.watch(b"a")) == (2, 0, True, False, 0, "")
