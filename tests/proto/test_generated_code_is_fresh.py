"""The checked-in server/proto/*_pb2*.py must be exactly what scripts/gen_protos.py produces."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = REPO_ROOT / "server" / "proto"
GENERATED_BY = "# Generated with grpcio-tools "  # scripts/gen_protos.py writes this line
REGEN_HINT = "run `python scripts/gen_protos.py` from the repository root and commit the result"

pytest.importorskip("grpc_tools", reason="grpcio-tools is needed to regenerate the protos")


def _generated(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*_pb2*.py"))}


def _checked_in_grpc_tools_version() -> str:
    for line in (CHECKED_IN / "rpc_pb2_grpc.py").read_text().splitlines():
        if line.startswith(GENERATED_BY):
            return line[len(GENERATED_BY):].split(";", 1)[0]
    raise AssertionError(f"{GENERATED_BY!r} not found in server/proto/rpc_pb2_grpc.py")


def test_generated_code_is_fresh(tmp_path):
    from grpc_tools import grpc_version

    used = _checked_in_grpc_tools_version()
    assert grpc_version.VERSION == used, (
        f"installed grpcio-tools is {grpc_version.VERSION}, but the checked-in code was "
        f"generated with {used}; install grpcio-tools=={used} (see pyproject.toml) to compare, "
        f"or, when deliberately upgrading, {REGEN_HINT}"
    )

    out = tmp_path / "gen"
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "gen_protos.py"), "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"gen_protos.py failed:\n{proc.stdout}\n{proc.stderr}"

    fresh = _generated(out)
    current = _generated(CHECKED_IN)
    assert fresh, "gen_protos.py produced no *_pb2*.py files"
    assert sorted(current) == sorted(fresh), (
        f"server/proto holds {sorted(current)} but the generator makes {sorted(fresh)}; {REGEN_HINT}"
    )
    stale = [name for name in fresh if fresh[name] != current[name]]
    assert not stale, f"stale generated files {stale}; {REGEN_HINT}"


def test_generator_is_deterministic(tmp_path):
    outs = []
    for i in range(2):
        out = tmp_path / f"gen{i}"
        subprocess.run(
            [sys.executable, str(REPO_ROOT / "scripts" / "gen_protos.py"), "--out", str(out)],
            cwd=REPO_ROOT,
            check=True,
            capture_output=True,
        )
        outs.append(_generated(out))
    assert outs[0] == outs[1]
