"""Watch stream protocol for live watchers: created responses and watch IDs, rejections, key
ranges, events and prev_kv, filters, cancel, half-close and progress requests
(reference §2, §7.1-7.5, §11.3, §12.17-19).

History replay and compaction are in test_watch_history.py.
"""

from __future__ import annotations

from etcd_api_helpers import (DELETE, NODELETE, NOPUT, PUT, WATCH_DUPLICATE_ID, WATCH_EMPTY_RANGE,
                              WatchStream, assert_full_header, delete, event_tuples, grant,
                              op_delete, op_put, put, response_shape, txn)
from etcdlite.proto import rpc_pb2

CREATED = (True, False, 0, "")  # (created, canceled, compact_revision, cancel_reason)


def _created(revision: int, watch_id: int) -> tuple:
    return (revision, watch_id) + CREATED


def _rejected(revision: int, reason: str) -> tuple:
    return (revision, -1, True, True, 0, reason)


def _event_response(revision: int, watch_id: int) -> tuple:
    return (revision, watch_id, False, False, 0, "")


def _read_by_watcher(stream: WatchStream, count: int) -> dict[int, list]:
    """Read ``count`` event responses; group them by watch ID as (header revision, events)."""
    by_watcher: dict[int, list] = {}
    for _ in range(count):
        response = stream.next()
        assert not (response.created or response.canceled), response
        by_watcher.setdefault(response.watch_id, []).append(
            (response.header.revision, event_tuples(response.events)))
    return by_watcher


def test_watch_created_comes_first_and_auto_ids_count_from_zero_past_explicit_ones(target):
    put(target, b"a", b"1")  # 2
    with WatchStream(target) as stream:
        created = []
        for explicit in (0, 0, 100, 0, 4, 0, 0):  # sent without waiting: answered in order
            stream.create(b"a", watch_id=explicit)
        for _ in range(7):
            response = stream.next()
            assert not response.events
            assert_full_header(response.header, 2)
            created.append(response_shape(response))
        # auto IDs come from a per-stream counter that skips IDs in use (4) and is not moved by
        # explicit IDs (100)
        assert created == [_created(2, i) for i in (0, 1, 100, 2, 4, 3, 5)]
        put(target, b"a", b"2")  # 3
        # every watcher gets its own copy of the event
        by_watcher = _read_by_watcher(stream, 7)
        assert sorted(by_watcher) == [0, 1, 2, 3, 4, 5, 100]
        for responses in by_watcher.values():
            assert responses == [(3, [(PUT, (b"a", b"2", 2, 3, 2, 0), None)])]
        # IDs are per stream: another stream starts again at 0
        with WatchStream(target) as other:
            assert response_shape(other.watch(b"a")) == _created(3, 0)


def test_watch_create_rejections_answer_watch_id_minus_one_created_and_canceled(target):
    put(target, b"a", b"1")  # 2
    with WatchStream(target) as stream:
        # key >= range_end is an empty range
        for key, range_end in ((b"b", b"a"), (b"b", b"b"), (b"a\x00", b"a")):
            stream.create(key, range_end)
            response = stream.next()
            assert response_shape(response) == _rejected(2, WATCH_EMPTY_RANGE), (key, range_end)
            assert_full_header(response.header, 2)
        # rejections consume no ID
        assert response_shape(stream.watch(b"a")) == _created(2, 0)
        assert response_shape(stream.watch(b"a", watch_id=7)) == _created(2, 7)
        assert response_shape(stream.watch(b"a")) == _created(2, 1)
        for watch_id in (7, 1):  # explicit or auto-assigned, an ID in use is a duplicate
            stream.create(b"b", watch_id=watch_id)
            response = stream.next()
            assert response_shape(response) == _rejected(2, WATCH_DUPLICATE_ID)
            assert_full_header(response.header, 2)
        # an explicit ID can be used again once its watcher is cancelled
        stream.cancel(7)
        assert response_shape(stream.next()) == (2, 7, False, True, 0, "")
        assert response_shape(stream.watch(b"a", watch_id=7)) == _created(2, 7)
        put(target, b"a", b"2")  # 3
        # only the three created watchers exist
        by_watcher = _read_by_watcher(stream, 3)
        assert sorted(by_watcher) == [0, 1, 7]
        stream.expect_nothing(0.3)


def test_watch_key_prefix_from_key_and_all_keys_ranges_see_exactly_their_keys(target):
    with WatchStream(target) as stream:
        stream.watch(b"b")                      # 0: one key
        stream.watch(b"b", b"c")                # 1: prefix "b"
        stream.watch(b"b", b"\x00")             # 2: every key >= "b"
        stream.watch(b"", b"\x00")              # 3: every key
        stream.watch(b"a", b"b")                # 4: [a, b)
        stream.watch(b"")                       # 5: an empty key means the key "\0"
        for revision, (key, matching) in enumerate([
                (b"a", (3, 4)), (b"b", (0, 1, 2, 3)), (b"ba", (1, 2, 3)), (b"c", (2, 3)),
                (b"ab\xff", (3, 4)), (b"b\x00", (1, 2, 3)), (b"\x00", (3, 5))], start=2):
            assert put(target, key, b"v").header.revision == revision
            got = _read_by_watcher(stream, len(matching))
            assert sorted(got) == sorted(matching), key
            for watch_id in matching:
                assert got[watch_id] == [(revision, [(PUT, (key, b"v", revision, revision, 1, 0),
                                                      None)])]
        stream.expect_nothing(0.3)


def test_watch_sends_one_response_per_revision_with_events_in_operation_order(target):
    put(target, b"a", b"1")  # 2
    put(target, b"c", b"1")  # 3
    grant(target, 60, 7)
    with WatchStream(target) as stream:
        assert response_shape(stream.watch(b"", b"\x00")) == _created(3, 0)
        txn(target, success=[op_put(b"d", b"1", lease=7), op_delete(b"a"), op_put(b"b", b"1"),
                             op_delete(b"c")])  # 4
        response = stream.next()
        assert response_shape(response) == _event_response(4, 0)
        assert_full_header(response.header, 4)
        # DELETE events carry only key and mod_revision
        assert event_tuples(response.events) == [
            (PUT, (b"d", b"1", 4, 4, 1, 7), None),
            (DELETE, (b"a", b"", 0, 4, 0, 0), None),
            (PUT, (b"b", b"1", 4, 4, 1, 0), None),
            (DELETE, (b"c", b"", 0, 4, 0, 0), None)]
        delete(target, b"nothing")  # no revision, no response
        put(target, b"b", b"2")  # 5
        response = stream.next()
        assert response_shape(response) == _event_response(5, 0)
        assert event_tuples(response.events) == [(PUT, (b"b", b"2", 4, 5, 2, 0), None)]
        delete(target, b"a", b"z")  # 6: a range delete is one revision, keys in order
        response = stream.next()
        assert response_shape(response) == _event_response(6, 0)
        assert event_tuples(response.events) == [(DELETE, (b"b", b"", 0, 6, 0, 0), None),
                                                 (DELETE, (b"d", b"", 0, 6, 0, 0), None)]


def test_watch_prev_kv_is_absent_on_a_creating_put_and_present_on_update_and_delete(target):
    grant(target, 60, 7)
    with WatchStream(target) as stream:
        stream.watch(b"k", prev_kv=True)  # 0
        stream.watch(b"k")                # 1: no prev_kv asked for
        put(target, b"k", b"v1")  # 2
        put(target, b"k", b"v2", lease=7)  # 3
        delete(target, b"k")  # 4
        put(target, b"k", b"v3")  # 5: a new generation is a creation again
        by_watcher = _read_by_watcher(stream, 8)
        assert by_watcher[0] == [
            (2, [(PUT, (b"k", b"v1", 2, 2, 1, 0), None)]),
            (3, [(PUT, (b"k", b"v2", 2, 3, 2, 7), (b"k", b"v1", 2, 2, 1, 0))]),
            (4, [(DELETE, (b"k", b"", 0, 4, 0, 0), (b"k", b"v2", 2, 3, 2, 7))]),
            (5, [(PUT, (b"k", b"v3", 5, 5, 1, 0), None)])]
        assert by_watcher[1] == [
            (2, [(PUT, (b"k", b"v1", 2, 2, 1, 0), None)]),
            (3, [(PUT, (b"k", b"v2", 2, 3, 2, 7), None)]),
            (4, [(DELETE, (b"k", b"", 0, 4, 0, 0), None)]),
            (5, [(PUT, (b"k", b"v3", 5, 5, 1, 0), None)])]


def test_watch_filters_drop_puts_or_deletes_and_send_nothing_for_fully_filtered_revisions(target):
    with WatchStream(target) as stream:
        stream.watch(b"k", b"l", filters=[NOPUT])               # 0
        stream.watch(b"k", b"l", filters=[NODELETE])            # 1
        stream.watch(b"k", b"l", filters=[NOPUT, NODELETE])     # 2: never hears anything
        stream.watch(b"k", b"l", filters=[7])                   # 3: unknown filters are ignored
        put(target, b"k1", b"v")  # 2
        put(target, b"k2", b"v")  # 3
        delete(target, b"k1")     # 4
        txn(target, success=[op_put(b"k3", b"v"), op_delete(b"k2")])  # 5
        put(target, b"k1", b"w")  # 6
        by_watcher = _read_by_watcher(stream, 11)
        assert [revision for revision, _ in by_watcher.pop(3)] == [2, 3, 4, 5, 6]
        assert by_watcher == {
            0: [(4, [(DELETE, (b"k1", b"", 0, 4, 0, 0), None)]),
                (5, [(DELETE, (b"k2", b"", 0, 5, 0, 0), None)])],
            1: [(2, [(PUT, (b"k1", b"v", 2, 2, 1, 0), None)]),
                (3, [(PUT, (b"k2", b"v", 3, 3, 1, 0), None)]),
                (5, [(PUT, (b"k3", b"v", 5, 5, 1, 0), None)]),
                (6, [(PUT, (b"k1", b"w", 6, 6, 1, 0), None)])]}
        stream.expect_nothing(0.3)


def test_watch_cancel_acknowledges_a_live_watcher_and_ignores_unknown_ids(target):
    with WatchStream(target) as stream:
        stream.watch(b"a")  # 0
        stream.watch(b"a")  # 1
        put(target, b"a", b"1")  # 2
        assert sorted(_read_by_watcher(stream, 2)) == [0, 1]
        stream.cancel(0)
        response = stream.next()
        assert response_shape(response) == (2, 0, False, True, 0, "")
        assert_full_header(response.header, 2)
        assert not response.events
        put(target, b"a", b"2")  # 3: only watcher 1 hears it
        assert _read_by_watcher(stream, 1) == {1: [(3, [(PUT, (b"a", b"2", 2, 3, 2, 0), None)])]}
        # cancelling an unknown or already cancelled ID gets no answer at all
        stream.cancel(0)
        stream.cancel(42)
        stream.cancel(-1)
        stream.send(rpc_pb2.WatchRequest())  # a request with nothing set is ignored too
        stream.expect_nothing(0.5)
        put(target, b"a", b"3")  # 4
        assert _read_by_watcher(stream, 1) == {1: [(4, [(PUT, (b"a", b"3", 2, 4, 3, 0), None)])]}


def test_watch_keeps_delivering_after_the_client_half_closes_the_request_stream(target):
    with WatchStream(target) as stream:
        stream.watch(b"a", b"b")
        stream.half_close()
        for revision, key in ((2, b"a1"), (3, b"a2")):
            put(target, key, b"v")
            assert _read_by_watcher(stream, 1) == {
                0: [(revision, [(PUT, (key, b"v", revision, revision, 1, 0), None)])]}


def test_watch_progress_request_is_answered_with_current_revision_and_watch_id_minus_one(target):
    put(target, b"x", b"1")  # 2
    with WatchStream(target) as stream:
        # no watchers at all: answered at once
        stream.request_progress()
        response = stream.next()
        assert response_shape(response) == (2, -1, False, False, 0, "")
        assert_full_header(response.header, 2)
        assert not response.events
        # a stream whose watchers are all in sync: same answer with the current revision
        stream.watch(b"x")
        put(target, b"x", b"2")  # 3
        assert sorted(_read_by_watcher(stream, 1)) == [0]
        stream.request_progress()
        response = stream.next()
        assert response_shape(response) == (3, -1, False, False, 0, "")
        assert_full_header(response.header, 3)
        assert not response.events
