"""etcdlite.proto must coexist with other etcd stubs (python-etcd3, aetcd) in one interpreter.

Those libraries register etcdserverpb/mvccpb/authpb in protobuf's *default* descriptor
pool; our generated modules use the private pool of server/proto/_pool.py.
"""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTOS = REPO_ROOT / "protos"

# Runs in a fresh interpreter so the default pool is pristine. argv[1] is the directory
# holding the "foreign" stubs, argv[2] selects which set is imported first.
_SCRIPT = textwrap.dedent(
    """
    import sys
    foreign_dir, order = sys.argv[1], sys.argv[2]
    sys.path.append(foreign_dir)

    def import_foreign():
        import importlib
        prefix = "etcd3rpc." if importlib.util.find_spec("etcd3rpc") else ""
        kv = importlib.import_module(prefix + "kv_pb2")
        rpc = importlib.import_module(prefix + "rpc_pb2")
        return kv, rpc

    def import_ours():
        from etcdlite.proto import kv_pb2, rpc_pb2, v3lock_pb2, v3election_pb2_grpc  # noqa: F401
        return kv_pb2, rpc_pb2

    if order == "foreign-first":
        f_kv, f_rpc = import_foreign()
        o_kv, o_rpc = import_ours()
    else:
        o_kv, o_rpc = import_ours()
        f_kv, f_rpc = import_foreign()

    from google.protobuf import descriptor_pool, symbol_database
    from etcdlite.proto import _pool, v3lock_pb2, v3election_pb2, v3election_pb2_grpc

    default = descriptor_pool.Default()
    # The default pool still belongs to the foreign stubs ...
    assert default.FindMessageTypeByName("mvccpb.KeyValue") is f_kv.KeyValue.DESCRIPTOR
    assert default.FindMessageTypeByName("etcdserverpb.RangeRequest") is f_rpc.RangeRequest.DESCRIPTOR
    assert symbol_database.Default().GetSymbol("mvccpb.KeyValue") is f_kv.KeyValue
    # ... ours live in the private pool, as distinct descriptors.
    assert o_kv.KeyValue.DESCRIPTOR is not f_kv.KeyValue.DESCRIPTOR
    assert o_rpc.RangeRequest.DESCRIPTOR is not f_rpc.RangeRequest.DESCRIPTOR
    for mod in (o_kv, o_rpc, v3lock_pb2, v3election_pb2):
        assert mod.DESCRIPTOR.pool is _pool.POOL
    assert _pool.POOL is not default
    assert _pool.POOL.FindMessageTypeByName("mvccpb.KeyValue") is o_kv.KeyValue.DESCRIPTOR
    for name in ("v3lockpb.LockRequest", "v3electionpb.LeaderKey"):
        _pool.POOL.FindMessageTypeByName(name)
        try:
            default.FindMessageTypeByName(name)
        except KeyError:
            pass
        else:
            raise AssertionError(name + " leaked into the default pool")

    # Round trips, across the two sets of classes in both directions.
    kv = o_kv.KeyValue(key=b"k", value=b"v", create_revision=2, mod_revision=3, version=1, lease=-1)
    resp = o_rpc.RangeResponse(header=o_rpc.ResponseHeader(revision=3), kvs=[kv], count=1)
    data = resp.SerializeToString()
    assert o_rpc.RangeResponse.FromString(data) == resp
    theirs = f_rpc.RangeResponse.FromString(data)
    assert theirs.kvs[0].lease == -1 and theirs.kvs[0].key == b"k"
    assert o_rpc.RangeResponse.FromString(theirs.SerializeToString()) == resp
    assert type(resp.kvs[0]) is o_kv.KeyValue

    lock = v3lock_pb2.LockResponse(header=o_rpc.ResponseHeader(revision=7), key=b"lock/1")
    assert v3lock_pb2.LockResponse.FromString(lock.SerializeToString()) == lock
    leader = v3election_pb2.LeaderResponse(kv=kv)
    assert v3election_pb2.LeaderResponse.FromString(leader.SerializeToString()).kv == kv
    assert v3election_pb2_grpc.ElectionStub
    print("OK")
    """
)


@pytest.fixture(scope="module")
def foreign_stubs(tmp_path_factory):
    """Plain protoc output for kv/auth/rpc.proto, registering in the default pool.

    "bare": files named kv.proto/rpc.proto and imported as top-level modules, like
    python-etcd3's etcd3/etcdrpc. "prefixed": the descriptor file names differ from ours
    (etcd3rpc/kv.proto), which is what trips the pure-Python backend's conflict check
    if anything of ours reaches the default pool.
    """
    pytest.importorskip("grpc_tools")
    root = tmp_path_factory.mktemp("foreign")
    dirs = {}
    for layout in ("bare", "prefixed"):
        src = root / layout / "src"
        out = root / layout / "out"
        sub = src / "etcd3rpc" if layout == "prefixed" else src
        sub.mkdir(parents=True)
        out.mkdir()
        for name in ("kv.proto", "auth.proto", "rpc.proto"):
            text = (PROTOS / name).read_text()
            if layout == "prefixed":
                text = text.replace('import "kv.proto"', 'import "etcd3rpc/kv.proto"')
                text = text.replace('import "auth.proto"', 'import "etcd3rpc/auth.proto"')
            (sub / name).write_text(text)
        rel = [str((sub / n).relative_to(src)) for n in ("kv.proto", "auth.proto", "rpc.proto")]
        subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", f"-I{src}", f"--python_out={out}", *rel],
            check=True,
        )
        if layout == "prefixed":
            (out / "etcd3rpc" / "__init__.py").write_text("")
        dirs[layout] = out
    yield dirs
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("order", ["foreign-first", "ours-first"])
@pytest.mark.parametrize("layout", ["bare", "prefixed"])
@pytest.mark.parametrize("backend", ["upb", "python"])
def test_coexists_with_default_pool_stubs(foreign_stubs, layout, order, backend):
    env = {
        **os.environ,
        "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": backend,
        # The foreign stubs come from the installed grpcio-tools and so match the runtime.
        "TEMPORARILY_DISABLE_PROTOBUF_VERSION_CHECK": "true",
    }
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", _SCRIPT, str(foreign_stubs[layout]), order],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "OK", proc.stdout + proc.stderr


# --- gRPC method paths ------------------------------------------------------------------

# (path, kind) for every method etcd serves (reference §1.2; no 3.7 RangeStream).
ETCD_METHODS = {
    "/etcdserverpb.KV/Range": "unary_unary",
    "/etcdserverpb.KV/Put": "unary_unary",
    "/etcdserverpb.KV/DeleteRange": "unary_unary",
    "/etcdserverpb.KV/Txn": "unary_unary",
    "/etcdserverpb.KV/Compact": "unary_unary",
    "/etcdserverpb.Watch/Watch": "stream_stream",
    "/etcdserverpb.Lease/LeaseGrant": "unary_unary",
    "/etcdserverpb.Lease/LeaseRevoke": "unary_unary",
    "/etcdserverpb.Lease/LeaseKeepAlive": "stream_stream",
    "/etcdserverpb.Lease/LeaseTimeToLive": "unary_unary",
    "/etcdserverpb.Lease/LeaseLeases": "unary_unary",
    "/etcdserverpb.Cluster/MemberAdd": "unary_unary",
    "/etcdserverpb.Cluster/MemberRemove": "unary_unary",
    "/etcdserverpb.Cluster/MemberUpdate": "unary_unary",
    "/etcdserverpb.Cluster/MemberList": "unary_unary",
    "/etcdserverpb.Cluster/MemberPromote": "unary_unary",
    "/etcdserverpb.Maintenance/Alarm": "unary_unary",
    "/etcdserverpb.Maintenance/Status": "unary_unary",
    "/etcdserverpb.Maintenance/Defragment": "unary_unary",
    "/etcdserverpb.Maintenance/Hash": "unary_unary",
    "/etcdserverpb.Maintenance/HashKV": "unary_unary",
    "/etcdserverpb.Maintenance/Snapshot": "unary_stream",
    "/etcdserverpb.Maintenance/MoveLeader": "unary_unary",
    "/etcdserverpb.Maintenance/Downgrade": "unary_unary",
    "/etcdserverpb.Auth/AuthEnable": "unary_unary",
    "/etcdserverpb.Auth/AuthDisable": "unary_unary",
    "/etcdserverpb.Auth/AuthStatus": "unary_unary",
    "/etcdserverpb.Auth/Authenticate": "unary_unary",
    "/etcdserverpb.Auth/UserAdd": "unary_unary",
    "/etcdserverpb.Auth/UserGet": "unary_unary",
    "/etcdserverpb.Auth/UserList": "unary_unary",
    "/etcdserverpb.Auth/UserDelete": "unary_unary",
    "/etcdserverpb.Auth/UserChangePassword": "unary_unary",
    "/etcdserverpb.Auth/UserGrantRole": "unary_unary",
    "/etcdserverpb.Auth/UserRevokeRole": "unary_unary",
    "/etcdserverpb.Auth/RoleAdd": "unary_unary",
    "/etcdserverpb.Auth/RoleGet": "unary_unary",
    "/etcdserverpb.Auth/RoleList": "unary_unary",
    "/etcdserverpb.Auth/RoleDelete": "unary_unary",
    "/etcdserverpb.Auth/RoleGrantPermission": "unary_unary",
    "/etcdserverpb.Auth/RoleRevokePermission": "unary_unary",
    "/v3lockpb.Lock/Lock": "unary_unary",
    "/v3lockpb.Lock/Unlock": "unary_unary",
    "/v3electionpb.Election/Campaign": "unary_unary",
    "/v3electionpb.Election/Proclaim": "unary_unary",
    "/v3electionpb.Election/Leader": "unary_unary",
    "/v3electionpb.Election/Observe": "unary_stream",
    "/v3electionpb.Election/Resign": "unary_unary",
}

_STUBS = [
    ("rpc_pb2_grpc", ["KV", "Watch", "Lease", "Cluster", "Maintenance", "Auth"]),
    ("v3lock_pb2_grpc", ["Lock"]),
    ("v3election_pb2_grpc", ["Election"]),
]


class _RecordingChannel:
    def __init__(self):
        self.methods = {}

    def __getattr__(self, kind):
        if kind not in ("unary_unary", "unary_stream", "stream_unary", "stream_stream"):
            raise AttributeError(kind)

        def factory(path, request_serializer=None, response_deserializer=None, **_):
            assert path not in self.methods, f"{path} registered twice"
            self.methods[path] = kind
            return (request_serializer, response_deserializer)

        return factory


class _RecordingServer:
    def __init__(self):
        self.methods = {}

    def add_generic_rpc_handlers(self, handlers):
        pass

    def add_registered_method_handlers(self, service, handlers):
        for name, handler in handlers.items():
            kind = ("stream" if handler.request_streaming else "unary") + "_" + (
                "stream" if handler.response_streaming else "unary"
            )
            self.methods[f"/{service}/{name}"] = kind


def test_method_paths_are_etcds():
    import importlib

    channel, server = _RecordingChannel(), _RecordingServer()
    for module_name, services in _STUBS:
        module = importlib.import_module(f"etcdlite.proto.{module_name}")
        for service in services:
            getattr(module, f"{service}Stub")(channel)
            getattr(module, f"add_{service}Servicer_to_server")(
                getattr(module, f"{service}Servicer")(), server
            )
    assert channel.methods == ETCD_METHODS
    assert server.methods == ETCD_METHODS


def test_stub_serializers_use_private_pool_classes():
    from etcdlite.proto import _pool, rpc_pb2, rpc_pb2_grpc

    channel = _RecordingChannel()
    stub = rpc_pb2_grpc.KVStub(channel)
    serialize, deserialize = stub.Range
    assert serialize == rpc_pb2.RangeRequest.SerializeToString
    assert deserialize == rpc_pb2.RangeResponse.FromString
    assert rpc_pb2.RangeRequest.DESCRIPTOR.file.pool is _pool.POOL
