"""The lessor on its own: grant rules, renewal, expiry order and key attachment, on a manual clock."""

from __future__ import annotations

import pytest

from etcdlite import errors
from etcdlite.clock import ManualClock
from etcdlite.lease.lessor import MAX_LEASE_TTL, MIN_LEASE_TTL, Lessor
from etcdlite.mvcc.key_index import Change
from etcdlite.mvcc.kv import KeyValue
from etcdlite.mvcc.store import Commit


def _put(key: bytes, lease: int, rev: int = 2) -> Change:
    return Change(rev, 0, key, KeyValue(key, rev, rev, 1, b"v", lease))


def test_ttl_below_minimum_is_raised_and_too_large_ttl_is_refused():
    lessor = Lessor(ManualClock())
    assert lessor.grant(1, 0).ttl == MIN_LEASE_TTL
    assert lessor.grant(2, -5).ttl == MIN_LEASE_TTL
    assert lessor.grant(3, MAX_LEASE_TTL).ttl == MAX_LEASE_TTL
    with pytest.raises(errors.LEASE_TTL_TOO_LARGE) as raised:
        lessor.grant(4, MAX_LEASE_TTL + 1)
    assert raised.value == errors.LEASE_TTL_TOO_LARGE


def test_duplicate_id_is_refused_and_chosen_ids_are_unique_positive():
    lessor = Lessor(ManualClock(), member_id=0x8E9E05C52164694D)
    lessor.grant(7, 10)
    with pytest.raises(errors.LEASE_EXISTS) as raised:
        lessor.grant(7, 10)
    assert raised.value == errors.LEASE_EXISTS
    chosen = {lessor.grant(0, 10).id for _ in range(100)}
    assert len(chosen) == 100 and all(0 < i < 2**63 for i in chosen)
    assert all(i >> 48 == 0x694D for i in chosen)


def test_lease_expires_at_its_deadline_and_renewal_moves_the_deadline():
    clock = ManualClock()
    lessor = Lessor(clock)
    lessor.grant(1, 10)
    lessor.grant(2, 5)
    clock.advance(4.9)
    assert lessor.expired() == []
    assert lessor.renew(2) == 5
    clock.advance(5.05)  # lease 2 renewed at 4.9 for 5 s: due at 9.9; lease 1 at 10
    assert [lease.id for lease in lessor.expired()] == [2]
    clock.advance(0.1)
    assert [lease.id for lease in lessor.expired()] == [2, 1]
    assert lessor.renew(1) == 0  # past its deadline: no longer renewable
    assert lessor.renew(99) == 0


def test_time_to_live_truncates_remaining_seconds():
    clock = ManualClock()
    lessor = Lessor(clock)
    lessor.grant(1, 30)
    clock.advance(0.001)
    assert lessor.time_to_live(1) == (29, 30, [])
    assert lessor.time_to_live(2) is None


def test_keys_follow_puts_and_deletes_between_leases():
    lessor = Lessor(ManualClock())
    lessor.grant(1, 10)
    lessor.grant(2, 10)
    lessor.on_commit(Commit(2, [_put(b"a", 1), _put(b"b", 1)]))
    assert lessor.get(1).keys == {b"a", b"b"}
    lessor.on_commit(Commit(3, [_put(b"a", 2, 3), _put(b"b", 0, 3)]))
    assert (lessor.get(1).keys, lessor.get(2).keys) == (set(), {b"a"})
    lessor.on_commit(Commit(4, [Change(4, 0, b"a", None)]))
    assert lessor.get(2).keys == set()
    assert lessor.lease_of(b"a") == 0


def test_restored_leases_get_their_full_ttl_plus_the_election_timeout():
    clock = ManualClock()
    lessor = Lessor(clock)
    lessor.restore({5: 20})
    clock.advance(0.5)
    assert lessor.time_to_live(5) == (20, 20, [])
    clock.advance(20.4)
    assert lessor.expired() == []
    clock.advance(0.2)
    assert [lease.id for lease in lessor.expired()] == [5]


def test_a_lease_renewed_at_the_same_instant_is_reported_expired_once():
    clock = ManualClock()
    lessor = Lessor(clock)
    lessor.grant(1, 5)
    lessor.renew(1)  # same deadline again: two schedule entries for one lease
    clock.advance(6)
    assert [lease.id for lease in lessor.expired()] == [1]
    lessor.remove(1)
    assert lessor.expired() == [] and lessor.next_deadline() is None


def test_expiry_scan_takes_at_most_the_batch_limit_soonest_first():
    clock = ManualClock()
    lessor = Lessor(clock)
    for lease_id in range(1, 11):
        lessor.grant(lease_id, 2 + lease_id)
    clock.advance(100)
    assert [lease.id for lease in lessor.expired(3)] == [1, 2, 3]
    assert len(lessor.expired()) == 10
