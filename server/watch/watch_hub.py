"""The watch hub: matches committed changes to watchers and feeds their streams.

Changes reach watchers only once durable (``on_durable``), one response per revision for watchers that
are in sync. A watcher that starts in the past, or whose stream stopped reading, is "unsynced": it is
taken out of the live index and later fed from the store's history, many revisions per response, as
etcd's unsynced watchers are; once it has caught up it goes back to live delivery. Its stream's
buffer is bounded, so a client that does not read costs no more than ``STREAM_BUFFER`` responses.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Callable

from ..clock import Clock
from ..mvcc.key_index import Change
from ..mvcc.kv import KeyValue
from ..mvcc.store import Commit, MVCCStore
from .events import DELETE, FILTER_NODELETE, FILTER_NOPUT, PUT, Event, WatchResponse
from .key_ranges import KeyRanges, in_range
from .watcher import STREAM_BUFFER, Watcher, WatchStream

EMPTY_RANGE = "mvcc: watcher range is empty"
DUPLICATE_ID = "mvcc: duplicate watch ID provided on the WatchStream"
NEGATIVE_START = "etcdserver: mvcc: required revision has been compacted"
#: etcd's default --experimental-watch-progress-notify-interval
DEFAULT_PROGRESS_INTERVAL = 600.0
#: at most this many revisions go into one catch-up response (etcd: 1000)
CATCH_UP_REVISIONS = 1000


class InternalWatch:
    __slots__ = ("key", "range_end", "callback")

    def __init__(self, key: bytes, range_end: bytes, callback: Callable[[int, list[Change]], None]) -> None:
        self.key = key
        self.range_end = range_end
        self.callback = callback


class WatchCounts:
    """Events the streams' senders took so far (etcd's events_total); the node hands them on when
    it replaces the hub."""

    __slots__ = ("events_sent",)

    def __init__(self) -> None:
        self.events_sent = 0


class WatchHub:
    def __init__(self, store: MVCCStore, readable_revision: Callable[[], int], clock: Clock,
                 progress_interval: float = DEFAULT_PROGRESS_INTERVAL,
                 counts: WatchCounts | None = None) -> None:
        self.store = store
        self.counts = counts if counts is not None else WatchCounts()
        self.readable_revision = readable_revision
        self.clock = clock
        self.progress_interval = progress_interval
        self._synced: KeyRanges[Watcher] = KeyRanges()
        self._unsynced: set[Watcher] = set()
        self._undelivered: deque[Commit] = deque()
        self._catch_up_scheduled = False
        self._streams: set[WatchStream] = set()
        self._internal: KeyRanges[InternalWatch] = KeyRanges()

    # -- streams ----------------------------------------------------------------------------

    def open_stream(self, capacity: int = STREAM_BUFFER) -> WatchStream:
        stream = WatchStream(capacity)
        self._streams.add(stream)
        return stream

    def close_stream(self, stream: WatchStream) -> None:
        stream.closed = True
        for watcher in list(stream.watchers.values()):
            self._forget(watcher)
        self._streams.discard(stream)

    def taken(self, stream: WatchStream, response: WatchResponse) -> None:
        """The stream's sender took ``response``; a drained stream lets its laggards catch up."""
        stream.taken(response)
        if response.events:
            self.counts.events_sent += len(response.events)
        if self._unsynced and stream.pending_events <= stream.capacity // 2:
            self._schedule_catch_up()

    # -- requests ---------------------------------------------------------------------------

    def create(self, stream: WatchStream, key: bytes, range_end: bytes = b"", start_revision: int = 0,
               filters: list[int] | tuple[int, ...] = (), prev_kv: bool = False,
               progress_notify: bool = False, watch_id: int = 0, fragment: bool = False) -> None:
        current = self.readable_revision()
        key = key or b"\x00"
        reason = ""
        if range_end and range_end != b"\x00" and key >= range_end:
            reason = EMPTY_RANGE
        elif watch_id and watch_id in stream.watchers:
            reason = DUPLICATE_ID
        elif start_revision < 0:
            reason = NEGATIVE_START
        if reason:
            stream.send(WatchResponse(-1, current, created=True, canceled=True, cancel_reason=reason))
            return
        if not watch_id:
            watch_id = stream.allocate_id()
        watcher = Watcher(stream, watch_id, key, range_end,
                          next_revision=start_revision if start_revision > 0 else current + 1,
                          prev_kv=prev_kv, no_put=FILTER_NOPUT in filters,
                          no_delete=FILTER_NODELETE in filters, progress_notify=progress_notify,
                          fragment=fragment)
        stream.watchers[watch_id] = watcher
        stream.send(WatchResponse(watch_id, current, created=True))
        if watcher.next_revision > current:
            self._mark_synced(watcher)
        else:
            self._unsynced.add(watcher)
            if stream.has_room():
                self._catch_up(watcher)

    def deny(self, stream: WatchStream, watch_id: int, reason: str) -> None:
        """Answer a create that may not be made: created and cancelled at once."""
        stream.send(WatchResponse(watch_id, self.readable_revision(), created=True, canceled=True,
                                  cancel_reason=reason))

    def cancel(self, stream: WatchStream, watch_id: int) -> None:
        watcher = stream.watchers.get(watch_id)
        if watcher is None:
            return  # etcd does not answer cancels of unknown watchers
        self._forget(watcher)
        stream.send(WatchResponse(watch_id, self.readable_revision(), canceled=True))
        self._maybe_answer_progress(stream)

    def request_progress(self, stream: WatchStream) -> None:
        """Answer once every watcher of the stream is in sync, so it never overtakes events."""
        stream.progress_wanted = True
        self._maybe_answer_progress(stream)

    def _maybe_answer_progress(self, stream: WatchStream) -> None:
        if stream.progress_wanted and all(w.synced for w in stream.watchers.values()):
            stream.progress_wanted = False
            stream.send(WatchResponse(-1, self.readable_revision()))

    def send_progress_notifications(self) -> None:
        """The periodic tick: idle, in-sync watchers that asked for it hear the current revision."""
        current = self.readable_revision()
        for stream in list(self._streams):
            for watcher in list(stream.watchers.values()):
                if not watcher.progress_notify or not watcher.synced or watcher.compacted:
                    continue
                if watcher.had_events:
                    watcher.had_events = False
                elif stream.has_room():
                    stream.send(WatchResponse(watcher.id, current))

    async def run_progress_ticker(self) -> None:
        while True:
            await asyncio.sleep(self.progress_interval)
            self.send_progress_notifications()

    # -- bookkeeping ------------------------------------------------------------------------

    def _mark_synced(self, watcher: Watcher) -> None:
        watcher.synced = True
        self._unsynced.discard(watcher)
        self._synced.add(watcher.key, watcher.range_end, watcher)
        self._maybe_answer_progress(watcher.stream)

    def _mark_unsynced(self, watcher: Watcher, next_revision: int) -> None:
        watcher.synced = False
        watcher.next_revision = next_revision
        self._synced.remove(watcher.key, watcher.range_end, watcher)
        self._unsynced.add(watcher)

    def _forget(self, watcher: Watcher) -> None:
        watcher.stream.watchers.pop(watcher.id, None)
        if watcher.synced and not watcher.compacted:
            self._synced.remove(watcher.key, watcher.range_end, watcher)
        self._unsynced.discard(watcher)
        watcher.synced = False

    def watcher_count(self) -> int:
        return sum(len(s.watchers) for s in self._streams)

    def stream_count(self) -> int:
        return len(self._streams)

    def slow_watcher_count(self) -> int:
        """Watchers behind the current revision (started in the past, or fallen behind)."""
        return len(self._unsynced)

    def queued_event_count(self) -> int:
        """Events handed to streams and not yet taken by their senders."""
        return sum(s.queued_events for s in self._streams)

    # -- live delivery ----------------------------------------------------------------------

    def on_commit(self, commit: Commit) -> None:
        """Store listener: remember changes until they are durable."""
        if commit.changes:
            self._undelivered.append(commit)

    def on_durable(self, revision: int) -> None:
        undelivered = self._undelivered
        while undelivered and undelivered[0].revision <= revision:
            self._dispatch(undelivered.popleft())

    def watch_internal(self, key: bytes, range_end: bytes,
                       callback: Callable[[int, list[Change]], None]) -> "InternalWatch":
        """Call ``callback(revision, changes)`` for every durable revision that changes the range,
        from now on, in the same loop turn the revision becomes durable. Used by locks and elections,
        whose waiters must wake the moment their predecessor's key is gone."""
        watch = InternalWatch(key, range_end, callback)
        self._internal.add(key, range_end, watch)
        return watch

    def cancel_internal(self, watch: "InternalWatch") -> None:
        self._internal.remove(watch.key, watch.range_end, watch)

    def _dispatch_internal(self, commit: Commit) -> None:
        internal = self._internal
        matched: dict[InternalWatch, list[Change]] = {}
        if internal.has_ranged():
            for change in commit.changes:
                for watch in internal.matching_ranged(change.key):
                    matched.setdefault(watch, []).append(change)
        for watch in internal.everywhere:  # the UI's: no key to look up
            matched[watch] = list(commit.changes)
        for watch, changes in matched.items():
            watch.callback(commit.revision, changes)

    def _dispatch(self, commit: Commit) -> None:
        if self._internal:
            self._dispatch_internal(commit)
        if not self._synced:
            return
        batches: dict[Watcher, list[Event]] = {}
        revision = commit.revision
        for change in commit.changes:
            is_put = not change.deleted
            event = prev = None
            for watcher in self._synced.matching(change.key):
                if (watcher.no_put if is_put else watcher.no_delete) or revision < watcher.next_revision:
                    continue
                if watcher.prev_kv:
                    if prev is None:
                        prev = self._event(change, with_prev=True)
                    chosen = prev
                else:
                    if event is None:
                        event = self._event(change, with_prev=False)
                    chosen = event
                batch = batches.get(watcher)
                if batch is None:
                    batches[watcher] = [chosen]
                else:
                    batch.append(chosen)
        for watcher, events in batches.items():
            stream = watcher.stream
            if stream.has_room():
                stream.send(WatchResponse(watcher.id, revision, events, fragmentable=watcher.fragment))
                watcher.next_revision = revision + 1
                watcher.had_events = True
            else:
                self._mark_unsynced(watcher, revision)

    def _event(self, change: Change, with_prev: bool) -> Event:
        kv = change.kv
        if kv is not None:
            event = Event(PUT, kv)
            if with_prev and kv.create_revision != kv.mod_revision:
                event.prev_kv = self._previous(change)
        else:
            event = Event(DELETE, KeyValue(change.key, 0, change.main, 0, b"", 0))
            if with_prev:
                event.prev_kv = self._previous(change)
        return event

    def _previous(self, change: Change) -> KeyValue | None:
        revision = change.main - 1
        if revision < self.store.compact_revision:
            return None  # etcd's read fails as compacted and the field is left out
        return self.store.get(change.key, revision)

    # -- catching up from history -----------------------------------------------------------

    def _schedule_catch_up(self) -> None:
        if not self._catch_up_scheduled:
            self._catch_up_scheduled = True
            asyncio.get_running_loop().call_soon(self._run_catch_up)

    def _run_catch_up(self) -> None:
        self._catch_up_scheduled = False
        for watcher in list(self._unsynced):
            if watcher in self._unsynced and watcher.stream.has_room():
                self._catch_up(watcher)

    def _catch_up(self, watcher: Watcher) -> None:
        """Feed an unsynced watcher from history: up to CATCH_UP_REVISIONS revisions per response."""
        stream = watcher.stream
        compact = self.store.compact_revision
        if watcher.next_revision < compact:
            self._unsynced.discard(watcher)
            watcher.compacted = True
            watcher.synced = True  # nothing left to deliver: it never holds back a progress answer
            stream.send(WatchResponse(watcher.id, 0, canceled=True, compact_revision=compact))
            self._maybe_answer_progress(stream)
            return
        current = self.readable_revision()
        events: list[Event] = []
        revisions = 0
        last_revision = 0
        reached = current
        for change in self.store.changes_since(watcher.next_revision):
            if change.main > current:
                break
            if change.main != last_revision:
                if revisions == CATCH_UP_REVISIONS:
                    reached = last_revision
                    break
                revisions += 1
                last_revision = change.main
            if not in_range(change.key, watcher.key, watcher.range_end):
                continue
            if watcher.no_put if not change.deleted else watcher.no_delete:
                continue
            events.append(self._event(change, watcher.prev_kv))
        if events:
            stream.send(WatchResponse(watcher.id, current, events, fragmentable=watcher.fragment))
            watcher.had_events = True
        watcher.next_revision = reached + 1
        if reached >= current:
            self._mark_synced(watcher)
        else:
            self._schedule_catch_up()
