"""Revision keys as etcd writes them: 8-byte big-endian main, ``_``, 8-byte big-endian sub, and
``t`` after a tombstone's."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etcdlite.mvcc.revision import bytes_to_revision, revision_to_bytes

numbers = st.integers(0, 2**64 - 1)


@given(numbers, numbers, st.booleans())
def test_a_revision_key_is_etcds_bytes_and_reads_back(main, sub, tombstone):
    data = revision_to_bytes(main, sub, tombstone)
    assert data == struct.pack(">Q", main) + b"_" + struct.pack(">Q", sub) + (b"t" if tombstone else b"")
    assert bytes_to_revision(data) == (main, sub, tombstone)


@pytest.mark.parametrize("data", [b"", b"\0" * 17, b"\0" * 8 + b"_" + b"\0" * 8 + b"x",
                                  b"\0" * 8 + b"_" + b"\0" * 7, b"\0" * 8 + b"_" + b"\0" * 10])
def test_anything_else_is_not_a_revision_key(data):
    with pytest.raises(ValueError):
        bytes_to_revision(data)
