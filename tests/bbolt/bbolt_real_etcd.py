"""Helpers for the bbolt tests against real etcd: a history model, etcd started on a given data
directory (a restored snapshot), and the snapshot tools."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field

from etcd_targets import Target, etcd_binary, etcdctl_binary, etcdutl_binary, start_real_etcd
from etcdlite.mvcc.key_index import Change
from etcdlite.mvcc.kv import KeyValue

TOOL_TIMEOUT = 60


@dataclass
class History:
    """What etcd's MVCC records for a sequence of writes: each write (Put, DeleteRange of existing
    keys, Txn) takes the next revision, its changes numbered by sub."""

    revision: int = 1
    changes: list[Change] = field(default_factory=list)
    live: dict[bytes, KeyValue] = field(default_factory=dict)

    def txn(self, ops: list[tuple]) -> int:
        """``ops``: ("put", key, value[, lease]) or ("del", key) (an existing key)."""
        self.revision += 1
        main = self.revision
        for sub, op in enumerate(ops):
            if op[0] == "put":
                key, value = op[1], op[2]
                lease = op[3] if len(op) > 3 else 0
                old = self.live.get(key)
                kv = KeyValue(key, old.create_revision if old else main, main,
                              old.version + 1 if old else 1, value, lease)
                self.live[key] = kv
                self.changes.append(Change(main, sub, key, kv))
            else:
                del self.live[op[1]]
                self.changes.append(Change(main, sub, op[1], None))
        return main

    def put(self, key: bytes, value: bytes, lease: int = 0) -> int:
        return self.txn([("put", key, value, lease)])

    def delete(self, key: bytes) -> int:
        return self.txn([("del", key)])

    def compacted(self, revision: int) -> list[Change]:
        """The history etcd keeps after compacting at ``revision``: per key, every change above it
        and the newest at or below it unless that is a tombstone."""
        newest: dict[bytes, Change] = {}
        for change in self.changes:
            if change.main <= revision:
                newest[change.key] = change
        kept = {id(c) for c in newest.values() if c.kv is not None}
        return [c for c in self.changes if c.main > revision or id(c) in kept]


def run_tool(args: list[str], check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=TOOL_TIMEOUT,
                          env=dict(os.environ, ETCDCTL_API="3"))
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed: {proc.stderr}")
    return proc


def snapshot_tool(version: str) -> list[str]:
    """The program that has ``snapshot status|restore``: etcdctl in 3.4, etcdutl in 3.5."""
    import pytest
    binary = etcdctl_binary("3.4") if version == "3.4" else etcdutl_binary()
    if binary is None or etcd_binary(version) is None:
        pytest.skip(f"real etcd {version} not installed (scripts/install_real_etcd.sh)")
    return [binary]


def tool_status(version: str, path: str) -> dict:
    return json.loads(run_tool([*snapshot_tool(version), "snapshot", "status", str(path),
                                "-w", "json"]).stdout)


def restore(version: str, snapshot: str, data_dir: str) -> None:
    """``snapshot restore`` with etcd's defaults: member "default" at http://localhost:2380."""
    run_tool([*snapshot_tool(version), "snapshot", "restore", str(snapshot), "--data-dir",
              str(data_dir)])


def start_etcd_on(version: str, data_dir: str) -> Target:
    """Real etcd serving an existing (restored) data directory on free 127.0.0.1 ports. The data
    directory is the caller's; stopping the target ends the process it started."""
    binary = etcd_binary(version)
    assert binary is not None
    return start_real_etcd(binary, version=version, data_dir=str(data_dir))


def remove(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
