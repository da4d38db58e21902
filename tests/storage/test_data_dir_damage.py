"""A damaged data dir is refused with a one-line "data dir D is corrupt: ..." and a non-zero exit,
never served empty or wrong: the data file deleted, emptied, truncated (to two pages, to half),
random bytes flipped; and a data dir of storage format 1 (no checksums) is sealed on first open."""

from __future__ import annotations

import hashlib
import os
import random
import struct
import subprocess
import sys
from pathlib import Path

import lmdb
import pytest

from etcdlite.storage.backend import Batch, StorageError
from etcdlite.storage.lmdb_backend import LmdbBackend
from etcdlite.mvcc.key_index import Change
from etcdlite.mvcc.kv import KeyValue

VALUES = 300

# Load a data dir in a child process (a damaged LMDB file must not take the test down with it)
# and print a digest of everything loaded, or the refusal.
_LOAD = """
import hashlib, sys
from etcdlite.storage.backend import StorageError
from etcdlite.storage.lmdb_backend import LmdbBackend
try:
    backend = LmdbBackend(sys.argv[1])
    state = backend.load()
except StorageError as exc:
    print("REFUSED", exc)
    sys.exit(3)
digest = hashlib.sha256(repr((sorted(state.changes), state.leases, state.compact_revision)).encode())
print("LOADED", digest.hexdigest())
"""


def _fill(data_dir: Path) -> str:
    backend = LmdbBackend(str(data_dir))
    changes = [Change(i + 2, 0, b"key/%04d" % i, KeyValue(b"key/%04d" % i, i + 2, i + 2, 1,
                                                          os.urandom(64), 0)) for i in range(VALUES)]
    backend.write(Batch(VALUES + 1, changes=changes, leases={7: 60}, meta={"raft_index": 5}))
    backend.close()
    return _load(data_dir)[1]


def _load(data_dir: Path) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-c", _LOAD, str(data_dir)], capture_output=True,
                          text=True, timeout=60)
    return proc.returncode, (proc.stdout.strip() or proc.stderr.strip())


def _data_file(data_dir: Path) -> Path:
    return data_dir / "lmdb" / "data.mdb"


def test_an_initialised_data_dir_whose_data_file_is_deleted_or_emptied_is_refused(tmp_path):
    for damage in ("delete", "empty"):
        data_dir = tmp_path / damage
        _fill(data_dir)
        if damage == "delete":
            _data_file(data_dir).unlink()
        else:
            os.truncate(_data_file(data_dir), 0)
        code, output = _load(data_dir)
        assert code == 3, output
        assert output.startswith(f"REFUSED data dir {data_dir} is corrupt: {_data_file(data_dir)} is "
                                 f"{'missing' if damage == 'delete' else 'empty'}")


def test_a_truncated_data_file_is_refused_before_it_is_mapped(tmp_path):
    for name, cut in (("two-pages", lambda size: 2 * 4096), ("half", lambda size: size // 2),
                      ("one-byte-short", lambda size: size - 1), ("one-page", lambda size: 4096)):
        data_dir = tmp_path / name
        _fill(data_dir)
        path = _data_file(data_dir)
        os.truncate(path, cut(path.stat().st_size))
        code, output = _load(data_dir)
        assert code == 3, (name, output)  # not SIGBUS (-7), not a traceback
        assert "is corrupt" in output and "truncated" in output


def test_flipped_bytes_are_refused_or_change_nothing_never_served_as_other_values(tmp_path):
    data_dir = tmp_path / "data"
    original = _fill(data_dir)
    path = _data_file(data_dir)
    pristine = path.read_bytes()
    rnd = random.Random(1234)
    outcomes = {"refused": 0, "unchanged": 0}
    for round_ in range(12):
        damaged = bytearray(pristine)
        for _ in range(rnd.choice((1, 4, 32))):
            offset = rnd.randrange(2 * 4096, len(damaged))  # the data pages, not the meta pages
            damaged[offset] ^= 1 << rnd.randrange(8)
        path.write_bytes(bytes(damaged))
        code, output = _load(data_dir)
        assert code in (0, 3), (round_, code, output)  # no crash, no traceback
        if code == 0:
            assert output == original, "a damaged file served other data"
            outcomes["unchanged"] += 1
        else:
            assert "is corrupt" in output
            outcomes["refused"] += 1
    assert outcomes["refused"]  # the flips did hit records


def test_the_command_line_refuses_a_damaged_data_dir_in_one_line(tmp_path):
    data_dir = tmp_path / "data"
    _fill(data_dir)
    os.truncate(_data_file(data_dir), 0)
    proc = subprocess.run([sys.executable, "-m", "etcdlite", "--data-dir", str(data_dir),
                           "--listen-client-urls", "http://127.0.0.1:0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "is corrupt" in lines[0] and "Traceback" not in proc.stderr, proc.stderr


def test_a_format_1_data_dir_is_sealed_on_first_open_and_keeps_its_data(tmp_path):
    data_dir = tmp_path / "data"
    (data_dir / "lmdb").mkdir(parents=True)
    env = lmdb.open(str(data_dir / "lmdb"), max_dbs=4)
    keys, meta, leases = (env.open_db(name) for name in (b"key", b"meta", b"lease"))
    kv = KeyValue(b"old", 2, 2, 1, b"value", 0)
    change = Change(2, 0, b"old", kv)
    with env.begin(write=True) as txn:
        txn.put(b"format", b"etcdlite/1", db=meta)
        txn.put(change.storage_key(), change.storage_value(), db=keys)
        txn.put(b"raft_index", struct.pack(">q", 3), db=meta)
        txn.put(struct.pack(">q", 9), struct.pack(">q", 30), db=leases)
    env.close()
    backend = LmdbBackend(str(data_dir))
    state = backend.load()
    backend.close()
    assert [c.kv for c in state.changes] == [kv] and state.leases == {9: 30}
    assert state.meta["raft_index"] == 3
    reopened = LmdbBackend(str(data_dir))
    assert [c.kv for c in reopened.load().changes] == [kv]
    reopened.close()
    assert (data_dir / "etcdlite.format").read_text() == "etcdlite/3\n"


def test_a_value_changed_on_disk_is_refused_at_start_by_its_checksum(tmp_path):
    data_dir = tmp_path / "data"
    backend = LmdbBackend(str(data_dir))
    backend.write(Batch(2, changes=[Change(2, 0, b"k", KeyValue(b"k", 2, 2, 1, b"VALUE" * 10, 0))]))
    backend.close()
    path = _data_file(data_dir)
    damaged = bytearray(path.read_bytes())
    damaged[damaged.find(b"VALUEVALUE")] ^= 0x01  # "VALUE" → "WALUE": decodes fine, wrong value
    path.write_bytes(bytes(damaged))
    proc = subprocess.run([sys.executable, "-m", "etcdlite", "--data-dir", str(data_dir),
                           "--listen-client-urls", "http://127.0.0.1:0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "is corrupt: a record whose checksum does not match" in proc.stderr
    assert "Traceback" not in proc.stderr
