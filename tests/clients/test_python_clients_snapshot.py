"""python-etcd3's and aetcd's snapshot calls: the file each receives passes ``snapshot status``
with the server's revision, on etcdlite as on real etcd."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bbolt"))

from bbolt_real_etcd import tool_status  # noqa: E402
from etcdlite.proto import rpc_pb2  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _fill(target) -> int:
    for i in range(200):
        target.kv.Put(rpc_pb2.PutRequest(key=b"key%03d" % i, value=b"v" * 300))
    return target.kv.Range(rpc_pb2.RangeRequest(key=b"key000")).header.revision


def test_python_etcd3_snapshot_writes_a_file_etcd_tools_accept(target, tmp_path):
    if importlib.util.find_spec("etcd3") is None:
        pytest.skip("etcd3 is not installed")
    revision = _fill(target)
    host, port = target.endpoint.rsplit(":", 1)
    program = textwrap.dedent(f"""
        import etcd3
        client = etcd3.client({host!r}, {int(port)})
        with open({str(tmp_path / 'etcd3.db')!r}, "wb") as f:
            client.snapshot(f)
    """)
    subprocess.run([sys.executable, "-c", program], check=True, timeout=60, cwd=REPO,
                   env=dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python"))
    assert tool_status("3.5", str(tmp_path / "etcd3.db"))["revision"] == revision


def test_aetcd_snapshot_writes_a_file_etcd_tools_accept(target, tmp_path):
    aetcd = pytest.importorskip("aetcd")
    revision = _fill(target)
    host, port = target.endpoint.rsplit(":", 1)

    async def main() -> None:
        async with aetcd.Client(host=host, port=int(port)) as client:
            with open(tmp_path / "aetcd.db", "wb") as f:
                await asyncio.wait_for(client.snapshot(f), 30)

    asyncio.run(main())
    assert tool_status("3.4", str(tmp_path / "aetcd.db"))["revision"] == revision
