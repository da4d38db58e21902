"""Our protos against etcd 3.4's originals: nothing of 3.4 may be missing or differ.

etcd's .proto files (Debian's golang-etcd-server-dev tree) are stripped of gogoproto and
google.api annotations, compiled with grpc_tools.protoc, and compared descriptor by
descriptor with the FileDescriptorProtos embedded in etcdlite.proto's generated modules.
Our 3.5/3.6 additions are allowed, but only the ones listed in EXTRAS.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ETCD_ROOT = Path("/usr/share/gocode/src/go.etcd.io/etcd")
ETCD_FILES = [
    "mvcc/mvccpb/kv.proto",
    "auth/authpb/auth.proto",
    "etcdserver/etcdserverpb/rpc.proto",
    "etcdserver/api/v3lock/v3lockpb/v3lock.proto",
    "etcdserver/api/v3election/v3electionpb/v3election.proto",
]

pytestmark = pytest.mark.skipif(
    not all((ETCD_ROOT / f).is_file() for f in ETCD_FILES),
    reason=f"etcd 3.4 proto sources not installed under {ETCD_ROOT}",
)

# Everything we define beyond etcd 3.4 (3.5/3.6 additions, reference §1.5).
EXTRAS = {
    "messages": {
        "etcdserverpb.DowngradeRequest",
        "etcdserverpb.DowngradeResponse",
        "etcdserverpb.DowngradeInfo",
        "etcdserverpb.AuthStatusRequest",
        "etcdserverpb.AuthStatusResponse",
    },
    "enums": {"etcdserverpb.DowngradeRequest.DowngradeAction"},
    "fields": {
        "etcdserverpb.MemberListRequest.linearizable",
        "etcdserverpb.AuthUserAddRequest.hashedPassword",
        "etcdserverpb.AuthUserChangePasswordRequest.hashedPassword",
        "etcdserverpb.HashKVResponse.hash_revision",
        "etcdserverpb.SnapshotResponse.version",
        "etcdserverpb.StatusResponse.storageVersion",
        "etcdserverpb.StatusResponse.dbSizeQuota",
        "etcdserverpb.StatusResponse.downgradeInfo",
    },
    "methods": {"etcdserverpb.Maintenance.Downgrade", "etcdserverpb.Auth.AuthStatus"},
}


def _strip_annotations(text: str) -> str:
    """Drop gogoproto / google.api imports and options; they have no wire effect."""
    text = re.sub(r'^\s*import\s+"(gogoproto|google/api)/[^"]*";[ \t]*\n', "", text, flags=re.M)
    text = re.sub(r"^\s*option\s+\(gogoproto\.[^;]*;[ \t]*\n", "", text, flags=re.M)
    text = re.sub(r"\s*\[\s*\(gogoproto\.[^\]]*\]", "", text)
    out, pos = [], 0
    for m in re.finditer(r"option\s+\(google\.api\.http\)\s*=\s*\{", text):
        if m.start() < pos:
            continue
        depth, i = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        j = re.compile(r"\s*;").match(text, i)
        out.append(text[pos : m.start()])
        pos = j.end() if j else i
    out.append(text[pos:])
    text = "".join(out)
    assert "gogoproto" not in text and "google.api" not in text, "annotation stripping failed"
    return text


@pytest.fixture(scope="module")
def etcd_files(tmp_path_factory):
    from google.protobuf import descriptor_pb2

    pytest.importorskip("grpc_tools")
    src = tmp_path_factory.mktemp("etcd-protos")
    for rel in ETCD_FILES:
        # etcd imports each other as "etcd/<path in repo>".
        dst = src / "etcd" / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(_strip_annotations((ETCD_ROOT / rel).read_text()))
    out = src / "etcd.pb"
    subprocess.run(
        [
            sys.executable, "-m", "grpc_tools.protoc", f"-I{src}", f"--descriptor_set_out={out}",
            "--include_imports", *(f"etcd/{rel}" for rel in ETCD_FILES),
        ],
        check=True,
    )
    fds = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    assert len(fds.file) == len(ETCD_FILES)
    return list(fds.file)


@pytest.fixture(scope="module")
def our_files():
    from google.protobuf import descriptor_pb2

    from etcdlite.proto import auth_pb2, kv_pb2, rpc_pb2, v3election_pb2, v3lock_pb2

    return [
        descriptor_pb2.FileDescriptorProto.FromString(m.DESCRIPTOR.serialized_pb)
        for m in (kv_pb2, auth_pb2, rpc_pb2, v3lock_pb2, v3election_pb2)
    ]


def _index(files):
    """Full name -> descriptor proto, for messages (incl. nested), enums and services."""
    messages, enums, services, syntax = {}, {}, {}, {}

    def walk(prefix, msg):
        name = f"{prefix}.{msg.name}"
        messages[name] = msg
        for e in msg.enum_type:
            enums[f"{name}.{e.name}"] = e
        for nested in msg.nested_type:
            walk(name, nested)

    for f in files:
        syntax[f.package] = f.syntax
        for m in f.message_type:
            walk(f.package, m)
        for e in f.enum_type:
            enums[f"{f.package}.{e.name}"] = e
        for s in f.service:
            services[f"{f.package}.{s.name}"] = s
    return messages, enums, services, syntax


def _field_sig(msg, field):
    oneof = msg.oneof_decl[field.oneof_index].name if field.HasField("oneof_index") else None
    return {
        "number": field.number,
        "type": field.type,
        "label": field.label,
        "type_name": field.type_name,
        "oneof": oneof,
        "proto3_optional": field.proto3_optional,
        "options": field.options.SerializeToString(),
    }


def test_same_packages_and_syntax(etcd_files, our_files):
    etcd_syntax, ours_syntax = _index(etcd_files)[3], _index(our_files)[3]
    assert set(etcd_syntax) == set(ours_syntax) == {
        "mvccpb", "authpb", "etcdserverpb", "v3lockpb", "v3electionpb",
    }
    assert set(etcd_syntax.values()) == set(ours_syntax.values()) == {"proto3"}


def test_messages(etcd_files, our_files):
    etcd_msgs, ours_msgs = _index(etcd_files)[0], _index(our_files)[0]
    missing = sorted(set(etcd_msgs) - set(ours_msgs))
    assert not missing, f"messages missing: {missing}"
    assert set(ours_msgs) - set(etcd_msgs) == EXTRAS["messages"]

    problems, extra_fields = [], set()
    for name, theirs in etcd_msgs.items():
        ours = ours_msgs[name]
        their_fields = {f.name: _field_sig(theirs, f) for f in theirs.field}
        our_fields = {f.name: _field_sig(ours, f) for f in ours.field}
        for fname, sig in their_fields.items():
            if fname not in our_fields:
                problems.append(f"{name}.{fname}: missing")
            elif our_fields[fname] != sig:
                problems.append(f"{name}.{fname}: etcd {sig} != ours {our_fields[fname]}")
        extra_fields |= {f"{name}.{f}" for f in set(our_fields) - set(their_fields)}
        if [o.name for o in theirs.oneof_decl] != [o.name for o in ours.oneof_decl]:
            problems.append(f"{name}: oneofs differ")
        if theirs.options.SerializeToString() != ours.options.SerializeToString():
            problems.append(f"{name}: message options differ")
    assert not problems, "\n".join(problems)
    assert extra_fields == EXTRAS["fields"]


def test_enums(etcd_files, our_files):
    etcd_enums, ours_enums = _index(etcd_files)[1], _index(our_files)[1]
    missing = sorted(set(etcd_enums) - set(ours_enums))
    assert not missing, f"enums missing: {missing}"
    assert set(ours_enums) - set(etcd_enums) == EXTRAS["enums"]
    for name, theirs in etcd_enums.items():
        ours = ours_enums[name]
        assert [(v.name, v.number) for v in ours.value] == [(v.name, v.number) for v in theirs.value], name


def test_services(etcd_files, our_files):
    etcd_svcs, ours_svcs = _index(etcd_files)[2], _index(our_files)[2]
    assert set(etcd_svcs) == set(ours_svcs)

    def methods(svc_name, svc):
        return {
            f"{svc_name}.{m.name}": (m.input_type, m.output_type, m.client_streaming, m.server_streaming)
            for m in svc.method
        }

    problems, extra = [], set()
    for name, theirs in etcd_svcs.items():
        theirs_m, ours_m = methods(name, theirs), methods(name, ours_svcs[name])
        for m, sig in theirs_m.items():
            if ours_m.get(m) != sig:
                problems.append(f"{m}: etcd {sig} != ours {ours_m.get(m)}")
        extra |= set(ours_m) - set(theirs_m)
    assert not problems, "\n".join(problems)
    assert extra == EXTRAS["methods"]


def test_additions_have_the_upstream_shape(our_files):
    """The 3.5/3.6 additions are not in the 3.4 tree; pin them to the reference tables."""
    from google.protobuf.descriptor_pb2 import FieldDescriptorProto as F

    msgs, enums, _, _ = _index(our_files)

    def f(message):
        return {x.name: (x.number, x.type, x.label, x.type_name) for x in msgs[message].field}

    opt = F.LABEL_OPTIONAL
    hdr = (1, F.TYPE_MESSAGE, opt, ".etcdserverpb.ResponseHeader")
    assert f("etcdserverpb.DowngradeRequest") == {
        "action": (1, F.TYPE_ENUM, opt, ".etcdserverpb.DowngradeRequest.DowngradeAction"),
        "version": (2, F.TYPE_STRING, opt, ""),
    }
    assert [(v.name, v.number) for v in enums["etcdserverpb.DowngradeRequest.DowngradeAction"].value] == [
        ("VALIDATE", 0), ("ENABLE", 1), ("CANCEL", 2),
    ]
    assert f("etcdserverpb.DowngradeResponse") == {"header": hdr, "version": (2, F.TYPE_STRING, opt, "")}
    assert f("etcdserverpb.DowngradeInfo") == {
        "enabled": (1, F.TYPE_BOOL, opt, ""),
        "targetVersion": (2, F.TYPE_STRING, opt, ""),
    }
    assert f("etcdserverpb.AuthStatusRequest") == {}
    assert f("etcdserverpb.AuthStatusResponse") == {
        "header": hdr,
        "enabled": (2, F.TYPE_BOOL, opt, ""),
        "authRevision": (3, F.TYPE_UINT64, opt, ""),
    }
    assert f("etcdserverpb.MemberListRequest") == {"linearizable": (1, F.TYPE_BOOL, opt, "")}
    assert f("etcdserverpb.AuthUserAddRequest")["hashedPassword"] == (4, F.TYPE_STRING, opt, "")
    assert f("etcdserverpb.AuthUserChangePasswordRequest")["hashedPassword"] == (3, F.TYPE_STRING, opt, "")
    assert f("etcdserverpb.HashKVResponse")["hash_revision"] == (4, F.TYPE_INT64, opt, "")
    assert f("etcdserverpb.SnapshotResponse")["version"] == (4, F.TYPE_STRING, opt, "")
    status = f("etcdserverpb.StatusResponse")
    assert status["storageVersion"] == (11, F.TYPE_STRING, opt, "")
    assert status["dbSizeQuota"] == (12, F.TYPE_INT64, opt, "")
    assert status["downgradeInfo"] == (13, F.TYPE_MESSAGE, opt, ".etcdserverpb.DowngradeInfo")


def test_negative_int64_is_a_ten_byte_varint():
    from etcdlite.proto import kv_pb2, rpc_pb2

    kv = kv_pb2.KeyValue(key=b"a", create_revision=2, mod_revision=2, version=1, value=b"1")
    assert kv.SerializeToString() == bytes.fromhex("0a01611002180220012a0131")
    assert rpc_pb2.WatchCancelRequest(watch_id=-1).SerializeToString() == b"\x08" + b"\xff" * 9 + b"\x01"
    assert rpc_pb2.ResponseHeader(cluster_id=2**64 - 1).SerializeToString() == b"\x08" + b"\xff" * 9 + b"\x01"
