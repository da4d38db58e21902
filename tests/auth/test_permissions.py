"""Merged key ranges answer every check as etcd's interval tree does (auth/range_perm_cache.go with
pkg/adt): the model below is that tree's algorithm run over the raw permissions, linear and plain."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from etcdlite.auth.permissions import READ, READWRITE, WRITE, KeyPermission, UserPermissions

INF = None


def _lt(a, b) -> bool:  # a < b with None as +infinity
    if a is INF:
        return False
    return b is INF or a < b


def _model_interval(key: bytes, range_end: bytes, point: bool):
    if point:
        return key, key + b"\0"
    return key, (INF if range_end == b"\0" else range_end)


def model_allows(perms: list[KeyPermission], perm_type: int, key: bytes, range_end: bytes) -> bool:
    stored = [_model_interval(p.key, p.range_end, not p.range_end) for p in perms
              if p.perm_type in (perm_type, READWRITE)]
    stored.sort(key=lambda iv: iv[0])
    if not range_end:  # Intersects(point)
        return any(b <= key and _lt(key, e) for b, e in stored)
    begin, end = _model_interval(key, range_end, False)
    # Contains(ivl): visit the stored intervals overlapping ivl, in order, contiguous, spanning it
    visited = [(b, e) for b, e in stored if _lt(b, end) and _lt(begin, e)
               and (e is INF or b < e)]
    if not visited:
        return False
    max_end = visited[0][1]
    for b, e in visited[1:]:
        if _lt(max_end, b):
            return False
        if _lt(max_end, e):
            max_end = e
    return visited[0][0] <= begin and not _lt(max_end, end)


keys = st.sampled_from([b"", b"\0", b"a", b"a\0", b"ab", b"b", b"b\0", b"ba", b"c", b"d", b"\xff"])
range_ends = st.one_of(st.just(b""), st.just(b"\0"), keys)
permissions = st.builds(KeyPermission, st.sampled_from([READ, WRITE, READWRITE]), keys, range_ends)


@settings(max_examples=3000, deadline=None)
@given(st.lists(permissions, max_size=6), st.sampled_from([READ, WRITE]), keys, range_ends)
def test_merged_ranges_answer_as_etcds_interval_tree(perms, perm_type, key, range_end):
    assert UserPermissions(perms).allows(perm_type, key, range_end) == \
        model_allows(perms, perm_type, key, range_end)


def test_a_key_and_the_range_before_it_merge_into_one_interval():
    perms = UserPermissions([KeyPermission(READ, b"a", b"c"), KeyPermission(READ, b"c")])
    assert perms.allows(READ, b"b", b"c\0")
    assert not perms.allows(READ, b"b", b"d")
    assert perms.allows(READ, b"c")
    assert not perms.allows(WRITE, b"c")


def test_readwrite_counts_for_both_and_from_key_reaches_the_end():
    perms = UserPermissions([KeyPermission(READWRITE, b"k", b"\0")])
    assert perms.allows(READ, b"k", b"\0") and perms.allows(WRITE, b"zzz")
    assert not perms.allows(READ, b"j", b"\0")


def test_a_prefix_permission_allows_the_prefix_range_and_nothing_past_it():
    perms = UserPermissions([KeyPermission(READ, b"app/", b"app0")])
    assert perms.allows(READ, b"app/", b"app0")
    assert perms.allows(READ, b"app/x")
    assert not perms.allows(READ, b"app/", b"app1")
    assert not perms.allows(READ, b"app0")
