"""The lock and election recipes of the core (etcdlite.concurrency) under random interleavings
(hypothesis stateful test), without gRPC.

One in-memory Node on a manual clock and one event loop. Lock and Campaign calls run as asyncio
tasks; after every step the loop runs until nothing moves any more, so every waiter that can make
progress has made it. Steps: start Lock / Campaign (with a live, a revoked or a fresh (0) lease;
several calls may share a lease), Unlock, delete anybody's key, put / delete plain keys under the
prefix, Proclaim, Resign, revoke a lease, let time pass (leases expire), keep a lease alive, cancel
a waiting task.

Invariants (reference §8, §9):
* at most one lock holder per name (a finished Lock whose key still exists with its create
  revision), and it is the key with the lowest create revision under ``name/``;
* a Lock answers only when its key is the oldest under the prefix, a Campaign only when no older
  key is left (its own key may be gone: campaigns never report a lost session);
* waiters are granted in arrival order (create revision of their key), per name;
* a waiter still pending has an older key in front of it (nobody is left waiting for nothing);
* a cancelled waiter's key is deleted by the server;
* a Lock whose own key vanished while waiting reports "mutex: session is expired" (3.5+, §8.4);
* the election leader (Leader) is the lowest create revision key; at most one campaign leads;
  Proclaim succeeds exactly while the caller's key exists with its create revision.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from etcdlite.auth.caller import INTERNAL
from etcdlite.clock import ManualClock
from etcdlite.concurrency import election, mutex
from etcdlite.concurrency.errors import NO_LEADER, NOT_LEADER, SESSION_EXPIRED
from etcdlite.config import Config
from etcdlite.errors import EtcdError
from etcdlite.mvcc.requests import (SORT_ASCEND, TARGET_CREATE, PutRequest,
                                  RangeRequest)
from etcdlite.node import Node
from etcdlite.storage.memory import MemoryBackend
from etcdlite.watch.key_ranges import prefix_end

LOCK_NAMES = (b"L1", b"L2")
ELECTION = b"E"
LEASE_NOT_FOUND = "etcdserver: requested lease not found"
SETTLE_ROUNDS = 30  # loop iterations with nothing new before "nothing moves any more"


@dataclass(eq=False)
class Call:
    """One Lock or Campaign call and what the model knows about it."""

    kind: str  # "lock" or "campaign"
    name: bytes
    lease: int  # as passed (0: the server chooses)
    task: asyncio.Task
    key: bytes = b""
    rev: int = 0  # create revision of the key it waits with / holds (= fence, leader.rev)
    leader: election.LeaderKey | None = None
    #: state of the prefix when the call returned (taken in the same loop step)
    oldest_at_return: tuple | None = None
    older_at_return: int = 0
    cancelled: bool = False
    released: bool = False
    finished_order: int = -1
    errors: list = field(default_factory=list)


def _prefix(name: bytes) -> bytes:
    return name + b"/"


class LockElectionModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = ManualClock()
        self.node = Node(Config(), MemoryBackend(), ["http://127.0.0.1:2379"], clock=self.clock)
        self.leases: list[int] = []  # granted by the test (some may be gone by now)
        self.calls: list[Call] = []
        self.finished: list[Call] = []  # in the order the tasks finished
        self.plain = 0
        self.value = 0

    def teardown(self) -> None:
        for call in self.calls:
            call.task.cancel()
        self.settle()
        self.loop.run_until_complete(self.node.close())
        self.loop.close()

    # -- plumbing -----------------------------------------------------------------------------

    def run(self, coro):
        result = self.loop.run_until_complete(coro)
        self.settle()
        return result

    def settle(self) -> None:
        async def idle() -> None:
            quiet = 0
            while quiet < SETTLE_ROUNDS:
                before = (self.node.store.current_revision, sum(c.task.done() for c in self.calls))
                await asyncio.sleep(0)
                after = (self.node.store.current_revision, sum(c.task.done() for c in self.calls))
                quiet = quiet + 1 if before == after else 0

        self.loop.run_until_complete(idle())

    def keys_under(self, name: bytes) -> list:
        """Live keys under ``name/`` (durable view), oldest create revision first."""
        prefix = _prefix(name)
        found = self.node.range(INTERNAL, RangeRequest(prefix, prefix_end(prefix), sort_order=SORT_ASCEND,
                                             sort_target=TARGET_CREATE))
        return list(found.kvs)

    def kv(self, key: bytes):
        found = self.node.range(INTERNAL, RangeRequest(key)).kvs
        return found[0] if found else None

    def snapshot(self, name: bytes, rev: int) -> tuple[tuple | None, int]:
        keys = self.keys_under(name)
        oldest = (keys[0].key, keys[0].create_revision) if keys else None
        return oldest, sum(kv.create_revision < rev for kv in keys)

    def live_lease(self, lease: int) -> bool:
        return self.node.lessor.get(lease) is not None

    def start(self, kind: str, name: bytes, lease: int, value: bytes = b"") -> Call:
        call: Call

        async def body():
            if kind == "lock":
                try:
                    rev_header, key = await mutex.lock(self.node, INTERNAL, name, lease)
                except EtcdError as exc:
                    if exc.message == SESSION_EXPIRED:  # only when its key is really gone
                        assert call.key and self.kv(call.key) is None, call
                    raise
                # no await between the return and this snapshot: the state at the grant
                mine = self.kv(key)
                call.key, call.rev = key, mine.create_revision
                call.oldest_at_return, call.older_at_return = self.snapshot(name, call.rev)
                return rev_header, key
            header, leader = await election.campaign(self.node, INTERNAL, name, lease, value)
            call.key, call.rev, call.leader = leader.key, leader.rev, leader
            call.oldest_at_return, call.older_at_return = self.snapshot(name, call.rev)
            return header, leader

        task = self.loop.create_task(body())
        call = Call(kind, name, lease, task)
        self.calls.append(call)

        def finished(_task) -> None:
            call.finished_order = len(self.finished)
            self.finished.append(call)

        task.add_done_callback(finished)
        self.settle()
        if not task.done():
            # waiting: its key is in place; find it (the newest key with the lease's suffix)
            suffix = None if lease == 0 else b"/%x" % lease
            mine = [kv for kv in self.keys_under(name)
                    if (suffix is None and kv.lease not in self.leases and kv.lease)
                    or (suffix is not None and kv.key == name + suffix)]
            assert mine, (kind, name, lease)
            call.key = mine[-1].key
            call.rev = mine[-1].create_revision
        return call

    def pending(self, kind: str | None = None) -> list[Call]:
        return [c for c in self.calls if not c.task.done() and (kind is None or c.kind == kind)]

    def succeeded(self, kind: str) -> list[Call]:
        return [c for c in self.calls if c.kind == kind and c.task.done() and not c.task.cancelled()
                and c.task.exception() is None]

    def may_start(self, name: bytes, lease: int) -> bool:
        """Excluded on purpose: re-using a lease whose earlier call on this name is still waiting
        although its key was deleted. The recipe then finds the *new* key and answers success for
        the old call as well (etcd does the same: the mutex only checks that the key exists), which
        is not a scenario a correct client produces."""
        if lease == 0:
            return True
        key = name + b"/%x" % lease
        return not any(c.name == name and c.key == key for c in self.pending()) or \
            self.kv(key) is not None

    # -- leases and time ------------------------------------------------------------------------

    @initialize()
    def grant_initial_leases(self) -> None:
        for ttl in (5, 10, 30):
            self.leases.append(self.run(self.node.lease_grant(INTERNAL, 0, ttl)).id)

    @rule(ttl=st.sampled_from([3, 5, 10, 30]))
    def grant_lease(self, ttl: int) -> None:
        self.leases.append(self.run(self.node.lease_grant(INTERNAL, 0, ttl)).id)

    @rule(data=st.data())
    def revoke_lease(self, data) -> None:
        live = [lease for lease in self.leases if self.live_lease(lease)]
        if not live:
            return
        self.run(self.node.lease_revoke(INTERNAL, data.draw(st.sampled_from(live))))

    @rule(seconds=st.sampled_from([1, 2, 4, 8]))
    def time_passes(self, seconds: int) -> None:
        self.clock.advance(seconds)

        async def expire() -> None:
            while await self.node.expire_leases():
                pass

        self.run(expire())

    @rule(data=st.data())
    def keep_alive(self, data) -> None:
        live = [lease for lease in self.leases if self.live_lease(lease)]
        if live:
            self.run(self.node.lease_keep_alive(INTERNAL, data.draw(st.sampled_from(live))))

    def draw_lease(self, data) -> int:
        """Mostly a live lease (so calls can share one); sometimes 0 or any lease ever granted."""
        live = [lease for lease in self.leases if self.live_lease(lease)]
        kind = data.draw(st.integers(0, 9), label="lease kind")
        if kind == 0 or not self.leases:
            return 0
        if kind == 1 or not live:
            return data.draw(st.sampled_from(self.leases), label="any lease")
        return data.draw(st.sampled_from(live), label="live lease")

    # -- Lock -----------------------------------------------------------------------------------

    @rule(data=st.data(), name=st.sampled_from(LOCK_NAMES))
    def lock(self, data, name: bytes) -> None:
        lease = self.draw_lease(data)
        if not self.may_start(name, lease):
            return
        live = lease == 0 or self.live_lease(lease)
        call = self.start("lock", name, lease)
        if not live:
            assert call.task.done()
            exc = call.task.exception()
            assert isinstance(exc, EtcdError) and (exc.code, exc.message) == (
                "UNKNOWN", LEASE_NOT_FOUND), exc

    @precondition(lambda self: self.succeeded("lock"))
    @rule(data=st.data())
    def unlock_holder(self, data) -> None:
        call = data.draw(st.sampled_from(self.succeeded("lock")))
        self.run(mutex.unlock(self.node, INTERNAL, call.key))
        call.released = True

    @rule(data=st.data(), name=st.sampled_from(LOCK_NAMES + (ELECTION,)))
    def delete_any_key(self, data, name: bytes) -> None:
        """Anyone may delete any key under the prefix (a waiter's, the holder's, a plain one)."""
        keys = self.keys_under(name)
        if keys:
            self.run(mutex.unlock(self.node, INTERNAL, data.draw(st.sampled_from(keys)).key))

    @rule(name=st.sampled_from(LOCK_NAMES + (ELECTION,)))
    def put_plain_key(self, name: bytes) -> None:
        self.plain += 1
        self.run(self.node.put(INTERNAL, PutRequest(_prefix(name) + b"plain%d" % self.plain, b"x")))

    @precondition(lambda self: self.pending())
    @rule(data=st.data())
    def cancel_waiter(self, data) -> None:
        call = data.draw(st.sampled_from(self.pending()))
        key_existed = self.kv(call.key) is not None
        call.task.cancel()
        call.cancelled = True
        self.settle()
        assert call.task.cancelled()
        if call.kind == "lock" or key_existed:
            # Lock deletes its key unconditionally; Campaign resigns (guarded on its revision)
            kv = self.kv(call.key)
            assert kv is None or (call.kind == "campaign" and kv.create_revision != call.rev), kv

    # -- Election -------------------------------------------------------------------------------

    @rule(data=st.data())
    def campaign(self, data) -> None:
        lease = self.draw_lease(data)
        if not self.may_start(ELECTION, lease):
            return
        live = lease == 0 or self.live_lease(lease)
        self.value += 1
        value = b"v%d" % self.value
        before = self.kv(ELECTION + b"/%x" % lease) if lease else None
        call = self.start("campaign", ELECTION, lease, value)
        if not live:
            exc = call.task.exception()
            assert isinstance(exc, EtcdError) and exc.message == LEASE_NOT_FOUND, exc
            return
        if before is not None:
            # re-campaign with the same lease: the value is proclaimed at once, leader or not
            kv = self.kv(call.key)
            assert kv is not None and kv.value == value and kv.create_revision == before.create_revision

    @precondition(lambda self: self.succeeded("campaign"))
    @rule(data=st.data())
    def proclaim(self, data) -> None:
        call = data.draw(st.sampled_from(self.succeeded("campaign")))
        self.value += 1
        value = b"v%d" % self.value
        kv = self.kv(call.key)
        expect_ok = kv is not None and kv.create_revision == call.rev
        lease_ok = self.live_lease(call.leader.lease)
        try:
            revision = self.run(election.proclaim(self.node, INTERNAL, call.leader, value))
        except EtcdError as exc:
            if not expect_ok:
                assert (exc.code, exc.message) == ("UNKNOWN", NOT_LEADER)
            else:
                # the key exists, so its lease does; anything else is a bug
                raise AssertionError(f"proclaim by {call.key!r} failed: {exc!r} {lease_ok}")
            return
        assert expect_ok, "proclaim succeeded without the key"
        after = self.kv(call.key)
        assert (after.value, after.mod_revision, after.version) == (value, revision, kv.version + 1)

    @precondition(lambda self: self.succeeded("campaign"))
    @rule(data=st.data())
    def resign(self, data) -> None:
        call = data.draw(st.sampled_from(self.succeeded("campaign")))
        kv = self.kv(call.key)
        guard = kv is not None and kv.create_revision == call.rev
        before = self.node.store.current_revision
        revision = self.run(election.resign(self.node, INTERNAL, call.leader))
        assert revision == (before + 1 if guard else before)
        if guard:
            assert self.kv(call.key) is None
        else:  # not (or no longer) the leader: a quiet no-op
            assert self.kv(call.key) == kv
        call.released = True

    # -- invariants -----------------------------------------------------------------------------

    @invariant()
    def finished_calls_answered_correctly(self) -> None:
        for call in self.calls:
            if not call.task.done() or call.task.cancelled():
                continue
            exc = call.task.exception()
            if exc is not None:
                assert isinstance(exc, EtcdError), exc
                if exc.message == LEASE_NOT_FOUND:
                    continue
                # only a Lock whose own key vanished while it waited fails otherwise (§8.4)
                assert call.kind == "lock" and exc.message == SESSION_EXPIRED, (call, exc)
                continue
            if call.kind == "lock":
                # granted: its own key was the oldest under the prefix
                assert call.oldest_at_return == (call.key, call.rev), call
            else:
                # won: no key older than its own is left (its own key may be gone)
                assert call.older_at_return == 0, call
                if call.oldest_at_return is not None and call.oldest_at_return[0] == call.key:
                    assert call.oldest_at_return[1] == call.rev

    @invariant()
    def at_most_one_holder_per_lock_and_it_is_the_oldest_key(self) -> None:
        for name in LOCK_NAMES:
            holders = {(c.key, c.rev) for c in self.succeeded("lock") if c.name == name
                       and (kv := self.kv(c.key)) is not None and kv.create_revision == c.rev}
            assert len(holders) <= 1, holders
            if holders:
                keys = self.keys_under(name)
                assert (keys[0].key, keys[0].create_revision) in holders

    @invariant()
    def waiters_are_granted_in_arrival_order(self) -> None:
        for name in LOCK_NAMES + (ELECTION,):
            # calls that got the lock / leadership with their key in place (a campaign whose key
            # vanished while it waited "wins" as a ghost at the same moment as the real winner)
            granted = [c for c in self.finished if c.name == name and not c.task.cancelled()
                       and c.task.exception() is None and c.oldest_at_return == (c.key, c.rev)]
            revs = [c.rev for c in granted]
            for earlier, later in zip(granted, granted[1:]):
                assert earlier.rev < later.rev or earlier.key == later.key and \
                    earlier.rev == later.rev, revs

    @invariant()
    def pending_waiters_have_an_older_key_in_front(self) -> None:
        for call in self.pending():
            keys = self.keys_under(call.name)
            assert any(kv.create_revision < call.rev for kv in keys), (call, keys)

    @invariant()
    def at_most_one_leader_and_it_is_what_leader_reports(self) -> None:
        leaders = {(c.key, c.rev) for c in self.succeeded("campaign")
                   if (kv := self.kv(c.key)) is not None and kv.create_revision == c.rev}
        assert len(leaders) <= 1, leaders
        keys = self.keys_under(ELECTION)
        try:
            _, kv = election.leader(self.node, INTERNAL, ELECTION)
        except EtcdError as exc:
            assert not keys and exc.message == NO_LEADER
            assert not leaders
            return
        assert (kv.key, kv.create_revision) == (keys[0].key, keys[0].create_revision)
        if leaders:
            assert leaders == {(kv.key, kv.create_revision)}

    @invariant()
    def cancelled_waiters_left_no_key(self) -> None:
        for call in self.calls:
            if call.cancelled and call.kind == "lock" and call.task.cancelled():
                kv = self.kv(call.key)
                # a later call with the same lease may have made the key again
                assert kv is None or kv.create_revision > call.rev, (call, kv)


LockElectionModel.TestCase.settings = settings(
    max_examples=200, stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_lock_election_model = LockElectionModel.TestCase
