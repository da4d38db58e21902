"""Matching watched ranges by key: exact keys, prefixes, from-key ranges and plain intervals."""

from __future__ import annotations

from hypothesis import given, strategies as st

from etcdlite.watch.key_ranges import KeyRanges, in_range, prefix_end


def test_prefix_end_is_the_clients_successor():
    assert prefix_end(b"aa") == b"ab"
    assert prefix_end(b"a\xff") == b"b"
    assert prefix_end(b"\xff\xff") == b"\x00"


def test_each_shape_matches_exactly_its_keys():
    ranges: KeyRanges[str] = KeyRanges()
    ranges.add(b"a", b"", "exact")
    ranges.add(b"ab", prefix_end(b"ab"), "prefix")
    ranges.add(b"m", b"\x00", "from-key")
    ranges.add(b"b", b"d", "interval")
    assert sorted(ranges.matching(b"a")) == ["exact"]
    assert sorted(ranges.matching(b"abc")) == ["prefix"]
    assert sorted(ranges.matching(b"c")) == ["interval"]
    assert sorted(ranges.matching(b"z")) == ["from-key"]
    assert sorted(ranges.matching(b"d")) == []
    ranges.remove(b"ab", prefix_end(b"ab"), "prefix")
    assert sorted(ranges.matching(b"abc")) == []


small_keys = st.binary(min_size=1, max_size=3).map(lambda b: bytes(x % 4 * 85 for x in b))


@given(st.lists(st.tuples(small_keys, st.one_of(st.just(b""), st.just(b"\x00"), small_keys,
                                                  small_keys.map(prefix_end))), max_size=12),
       small_keys)
def test_matching_equals_a_scan_of_every_range(range_list, key):
    ranges: KeyRanges[int] = KeyRanges()
    for i, (start, end) in enumerate(range_list):
        ranges.add(start, end, i)
    expected = sorted(i for i, (start, end) in enumerate(range_list) if in_range(key, start, end))
    assert sorted(ranges.matching(key)) == expected


def test_the_range_of_every_key_is_held_apart_and_still_matches_every_key():
    ranges: KeyRanges[str] = KeyRanges()
    ranges.add(b"\x00", b"\x00", "all")
    ranges.add(b"a", b"", "exact")
    assert ranges.everywhere == {"all"}
    assert sorted(ranges.matching(b"\x00")) == ["all"]
    assert sorted(ranges.matching(b"a")) == ["all", "exact"]
    assert list(ranges.matching_ranged(b"a")) == ["exact"]
    ranges.remove(b"a", b"", "exact")
    assert not ranges.has_ranged() and ranges
    ranges.remove(b"\x00", b"\x00", "all")
    assert not ranges and ranges.everywhere == set()


@given(st.lists(st.tuples(small_keys, st.one_of(st.just(b""), st.just(b"\x00"), small_keys)),
                max_size=12), small_keys)
def test_matching_is_the_ranged_matches_and_every_key_watchers(range_list, key):
    ranges: KeyRanges[int] = KeyRanges()
    for i, (start, end) in enumerate(range_list):
        ranges.add(start, end, i)
    everywhere = {i for i, (start, end) in enumerate(range_list) if start == end == b"\x00"}
    assert ranges.everywhere == everywhere
    assert not everywhere & set(ranges.matching_ranged(key))
    assert sorted(ranges.matching(key)) == sorted([*ranges.matching_ranged(key), *everywhere])
