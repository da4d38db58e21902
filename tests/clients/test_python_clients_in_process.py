"""etcdlite runs inside a process that also imported python-etcd3 / aetcd (reference §1.7).

Both libraries register etcd's protos (``etcdserverpb``, ``mvccpb``) in protobuf's default
descriptor pool; etcdlite's own copy must not collide with them. Each test runs in a fresh
interpreter so the import order is exactly the user's: client library first, then etcdlite.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _require(module: str) -> None:
    # Only look the module up: importing both client libraries here would make them collide.
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")


def _run(code: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=60, cwd=REPO, env=dict(os.environ, **(env or {})))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_aetcd_imported_first_talks_to_in_process_etcdlite():
    _require("aetcd")
    out = _run("""
        import asyncio
        import aetcd
        from etcdlite.embed import EtcdLite

        async def main():
            async with EtcdLite() as etcd:
                client = aetcd.Client(host=etcd.host, port=etcd.port)
                await client.connect()
                put = await client.put(b"greeting", b"hello")
                got = await client.get(b"greeting")
                await client.close()
                print(put.header.revision, got.value.decode(), got.mod_revision)

        asyncio.run(main())
    """)
    assert out.split() == ["2", "hello", "2"]


def test_python_etcd3_imported_first_talks_to_in_process_etcdlite():
    _require("etcd3")
    # python-etcd3 0.12 ships generated code that only the pure-Python protobuf runtime still loads.
    out = _run("""
        import etcd3
        from etcdlite.embed import EtcdLite

        with EtcdLite() as etcd:
            client = etcd3.client(host=etcd.host, port=etcd.port)
            client.put("k", "v1")
            client.put("k", "v2")
            value, meta = client.get("k")
            print(value.decode(), meta.version, meta.create_revision, meta.mod_revision)
            print(client.status().version)
            client.close()
    """, env={"PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"})
    lines = out.splitlines()
    assert lines[0].split() == ["v2", "2", "2", "3"]
    assert lines[1] == "3.5.0"
