"""Loading the history at start: the collector's state is restored afterwards, and the
standalone server's history is frozen out of the collector's reach (run in a child process:
``gc.freeze`` would change this test process for every later test)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import gc, sys, tempfile
    from etcdlite.config import Config
    from etcdlite.mvcc.key_index import Change
    from etcdlite.mvcc.kv import KeyValue
    from etcdlite.node import Node
    from etcdlite.storage.backend import Batch
    from etcdlite.storage.lmdb_backend import LmdbBackend

    data = tempfile.mkdtemp() + "/data"
    backend = LmdbBackend(data)
    backend.write(Batch(3, [Change(2, 0, b"a", KeyValue(b"a", 2, 2, 1, b"1")),
                            Change(3, 0, b"a", KeyValue(b"a", 2, 3, 2, b"2"))]))
    backend.close()
    freeze = sys.argv[1] == "freeze"
    enabled_before = sys.argv[2] == "enabled"
    if not enabled_before:
        gc.disable()
    frozen_before = gc.get_freeze_count()
    node = Node(Config(), LmdbBackend(data), client_urls=[], freeze_history=freeze)
    assert node.store._index.get(b"a").latest().value == b"2"
    print(gc.isenabled() == enabled_before, gc.get_freeze_count() > frozen_before)
""")


def _run(freeze: str, enabled: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", CHILD, freeze, enabled], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_loading_leaves_the_collector_as_it_was_and_frozen_nothing():
    assert _run("no", "enabled") == ["True", "False"]
    assert _run("no", "disabled") == ["True", "False"]


def test_the_standalone_server_freezes_the_loaded_history():
    assert _run("freeze", "enabled") == ["True", "True"]
