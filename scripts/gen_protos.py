#!/usr/bin/env python3
"""Regenerate etcdlite's protobuf/gRPC Python modules from ``protos/*.proto``.

Usage (from the repository root)::

    python scripts/gen_protos.py            # writes server/proto/*_pb2*.py
    python scripts/gen_protos.py --out DIR  # same files into DIR (used by the freshness test)

Requires grpcio-tools (pinned in pyproject's ``test`` extra); the output depends on
its bundled protoc/plugin version, so regenerate with exactly that version.

``grpc_tools.protoc`` output is post-processed so that the modules

* register their file descriptors in the private pool of ``server/proto/_pool.py``
  instead of ``descriptor_pool.Default()`` (python-etcd3 / aetcd register the same
  ``etcdserverpb``/``mvccpb``/``authpb`` symbols in the default pool; sharing it
  would make the two sets of stubs collide in one interpreter);
* import each other as ``from etcdlite.proto import kv_pb2 as kv__pb2`` (protoc emits
  top-level ``import kv_pb2``, which only works with ``server/proto`` on sys.path);
* build their message classes with ``_pool.BuildTopDescriptorsAndMessages`` (a copy
  of protobuf's builder that registers in a symbol database over the private pool;
  the stock one registers in the default symbol database, which under the
  pure-Python protobuf backend also means the default pool) and use
  ``_pool.SYMBOL_DB`` as ``_sym_db``;
* carry their package-qualified module name (``etcdlite.proto.rpc_pb2``) in the
  message classes' ``__module__``, which keeps pickling and reprs right;
* do not call ``runtime_version.ValidateProtobufRuntimeVersion``. grpcio-tools
  1.83.2 emits protobuf *7.35.1* gencode, and that check rejects any runtime
  with a different major version (hard ``VersionError`` under protobuf 6.x) or
  an older minor. The project supports ``protobuf>=4.25,<8``. The generated
  code itself uses only APIs that 4.25 and 7.x both have
  (``DescriptorPool.AddSerializedFile``, ``internal.builder``,
  ``_USE_C_DESCRIPTORS``, ``_loaded_options``). The protos use no options or
  extensions, so no newer descriptor features are involved.
  Checked with protobuf 4.25.0 and 7.36.2 (.ci/run runs the suite with both);
  ``tests/proto`` imports the modules under the installed runtime with
  warnings-as-errors. The version floor is enforced by the package metadata
  rather than by the gencode.

The grpcio version guard in ``*_pb2_grpc.py`` (``grpcio>=1.83.2``, the version of
grpcio-tools that generated them) is removed as well: the generated stubs and
handlers use only APIs that grpcio has had since 1.63 (``_registered_method``,
``add_registered_method_handlers``), and the package metadata states the range
that the test suite proves (pyproject's ``dependencies``).

Output is deterministic: the same protos and the same grpcio-tools version always
give byte-identical files.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = REPO_ROOT / "protos"
DEFAULT_OUT = REPO_ROOT / "server" / "proto"

#: Python package the generated modules live in (used in rewritten imports).
PACKAGE = "etcdlite.proto"

#: proto file stem -> whether it declares services (gets a *_pb2_grpc.py).
PROTOS = {
    "kv": False,
    "auth": False,
    "rpc": True,
    "v3lock": True,
    "v3election": True,
    # etcdlite's own admin service (time control), package etcdlite.admin.v1
    "etcdlite_admin": True,
}


def _run_protoc(workdir: Path) -> None:
    from grpc_tools import protoc

    pb_out = workdir / "pb"
    grpc_out = workdir / "grpc"
    pb_out.mkdir()
    grpc_out.mkdir()
    # Paths relative to -I keep the descriptor file names bare ("rpc.proto"), which
    # is what the `import "kv.proto";` statements refer to.
    files = [f"{stem}.proto" for stem in PROTOS]
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_DIR}",
        f"--python_out={pb_out}",
        f"--grpc_python_out={grpc_out}",
        *files,
    ]
    rc = protoc.main(args)
    if rc != 0:
        raise SystemExit(f"protoc failed with exit code {rc}")


_IMPORT_RE = re.compile(r"^import (\w+_pb2) as (\w+)$", re.MULTILINE)

# protoc's runtime-version guard: the import line and the call statement.
_RUNTIME_IMPORT = "from google.protobuf import runtime_version as _runtime_version\n"
_RUNTIME_CALL_RE = re.compile(
    r"^_runtime_version\.ValidateProtobufRuntimeVersion\(\n(?:    .*\n)*?\)\n", re.MULTILINE
)
_RUNTIME_NOTE = (
    "# protobuf runtime version check removed by scripts/gen_protos.py: this gencode\n"
    "# is used with protobuf>=4.25,<8 (see the script's docstring).\n"
)

_POOL_IMPORT = "from google.protobuf import descriptor_pool as _descriptor_pool\n"
_SYMDB_IMPORT = "from google.protobuf import symbol_database as _symbol_database\n"
_BUILD_TOP_RE = re.compile(r"_builder\.BuildTopDescriptorsAndMessages\(DESCRIPTOR, '(\w+)'")


def _replace_once(text: str, old: str, new: str, fname: str) -> str:
    if text.count(old) != 1:
        raise SystemExit(f"{fname}: expected exactly one {old!r} in protoc output")
    return text.replace(old, new)


def _rewrite_imports(text: str, fname: str) -> str:
    def repl(m: re.Match[str]) -> str:
        module, alias = m.group(1), m.group(2)
        if module[: -len("_pb2")] not in PROTOS:
            raise SystemExit(f"{fname}: unexpected import of {module}")
        return f"from {PACKAGE} import {module} as {alias}"

    return _IMPORT_RE.sub(repl, text)


def _postprocess_pb2(text: str, fname: str) -> str:
    text = _replace_once(
        text,
        "# NO CHECKED-IN PROTOBUF GENCODE\n",
        "# Post-processed by scripts/gen_protos.py (private descriptor pool, package imports).\n",
        fname,
    )
    # (a) private descriptor pool
    text = _replace_once(text, _POOL_IMPORT, f"from {PACKAGE} import _pool\n", fname)
    text = _replace_once(
        text, "_descriptor_pool.Default().AddSerializedFile(", "_pool.POOL.AddSerializedFile(", fname
    )
    text = _replace_once(text, _SYMDB_IMPORT, "", fname)
    text = _replace_once(text, "_sym_db = _symbol_database.Default()", "_sym_db = _pool.SYMBOL_DB", fname)
    # runtime version guard (see module docstring)
    text = _replace_once(text, _RUNTIME_IMPORT, "", fname)
    text, n = _RUNTIME_CALL_RE.subn(_RUNTIME_NOTE, text)
    if n != 1:
        raise SystemExit(f"{fname}: runtime version check not found in protoc output")
    # (b) package imports
    text = _rewrite_imports(text, fname)
    # private-pool builder, qualified module name for the message classes
    text, n = _BUILD_TOP_RE.subn(
        lambda m: f"_pool.BuildTopDescriptorsAndMessages(DESCRIPTOR, '{PACKAGE}.{m.group(1)}'", text
    )
    if n != 1:
        raise SystemExit(f"{fname}: BuildTopDescriptorsAndMessages call not found")
    for leftover in ("_descriptor_pool", "_runtime_version", "_symbol_database", "Default()"):
        if leftover in text:
            raise SystemExit(f"{fname}: leftover {leftover!r} after post-processing")
    return text


_GRPC_GUARD_RE = re.compile(
    r"^GRPC_GENERATED_VERSION = '([\d.]+)'\n(?:.*\n)*?    \)\n", re.MULTILINE
)
#: the line tests/proto/test_generated_code_is_fresh.py reads the generator's version from
GENERATED_BY = "# Generated with grpcio-tools "
_GRPC_GUARD_NOTE = (
    GENERATED_BY + "\\1; its grpcio version guard was removed by scripts/gen_protos.py:\n"
    "# the supported grpcio range is the package's (see the script's docstring).\n"
)


def _postprocess_grpc(text: str, fname: str) -> str:
    text, n = _GRPC_GUARD_RE.subn(_GRPC_GUARD_NOTE, text)
    if n != 1:
        raise SystemExit(f"{fname}: grpcio version guard not found in protoc output")
    text = _replace_once(text, "import warnings\n", "", fname)
    return _rewrite_imports(text, fname)


def generate(out_dir: Path) -> list[Path]:
    """Generate all modules into ``out_dir``; returns the written paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="etcdlite-protoc-") as tmp:
        work = Path(tmp)
        _run_protoc(work)
        for stem, has_services in PROTOS.items():
            outputs = [(work / "pb" / f"{stem}_pb2.py", _postprocess_pb2)]
            if has_services:
                outputs.append((work / "grpc" / f"{stem}_pb2_grpc.py", _postprocess_grpc))
            for src, postprocess in outputs:
                text = src.read_text(encoding="utf-8")
                text = postprocess(text, src.name)
                dst = out_dir / src.name
                # newline="\n": identical bytes on every platform.
                with open(dst, "w", encoding="utf-8", newline="\n") as fh:
                    fh.write(text)
                written.append(dst)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="output directory (default: server/proto in the repository)",
    )
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
