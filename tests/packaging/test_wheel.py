"""The wheel a user installs: built from a clean clone, it puts exactly one top-level package,
``etcdlite``, into site-packages, and a project with its own ``server`` package keeps working
under ``pytest`` and ``python -m pytest`` with the ``etcdlite`` fixture.

One wheel and one fresh virtual environment (no system site-packages) serve the whole module; pip
takes etcdlite's dependencies from its cache or the package index.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 300
RUN_TIMEOUT = 180

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git to clone the repo")


def _run(cmd: list[str], cwd: Path, timeout: float = RUN_TIMEOUT,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a clone of the committed tree (what a user's pip would build)."""
    work = tmp_path_factory.mktemp("wheel")
    clone = work / "clone"
    _run(["git", "clone", "-q", "--no-hardlinks", str(REPO), str(clone)], cwd=work)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
          "-w", str(work / "dist"), str(clone)], cwd=work, timeout=BUILD_TIMEOUT)
    (built,) = (work / "dist").glob("etcdlite-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel and pytest installed."""
    root = tmp_path_factory.mktemp("venv") / "env"
    _run([sys.executable, "-m", "venv", str(root)], cwd=root.parent)
    python = root / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", str(wheel), "pytest"], cwd=root.parent,
         timeout=BUILD_TIMEOUT)
    return root


def _top_level_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        return {name.split("/", 1)[0] for name in zf.namelist()}


def test_the_wheel_holds_no_top_level_package_but_etcdlite(wheel):
    names = _top_level_names(wheel)
    packages = {n for n in names if not n.endswith(".dist-info")}
    assert packages == {"etcdlite"}


def test_the_wheel_ships_every_source_package_and_the_proto_files(wheel):
    with zipfile.ZipFile(wheel) as zf:
        contents = set(zf.namelist())
    for init in (REPO / "server").rglob("__init__.py"):
        assert "etcdlite/" + init.relative_to(REPO / "server").as_posix() in contents, init
    for proto in (REPO / "protos").glob("*.proto"):
        assert f"etcdlite/protos/{proto.name}" in contents


def test_site_packages_gains_only_etcdlite(venv):
    python = venv / "bin" / "python"
    out = _run([str(python), "-c",
                "import importlib.metadata as m; d = m.distribution('etcdlite');"
                "print('\\n'.join(sorted({str(f).split('/')[0] for f in d.files})))"],
               cwd=venv).stdout.split()
    assert {n for n in out if not n.endswith(".dist-info") and n != ".."} == {"etcdlite"}, out
    assert not list((venv / "lib").glob("python3*/site-packages/server"))


def test_installed_package_starts_a_server_and_serves_the_admin_proto(venv, tmp_path):
    python = venv / "bin" / "python"
    script = textwrap.dedent("""
        import importlib.resources, sys
        from etcdlite import EtcdLite
        assert "server" not in sys.modules
        with EtcdLite() as etcd:
            print(etcd.endpoint)
        proto = importlib.resources.files("etcdlite.protos") / "etcdlite_admin.proto"
        assert "package etcdlite.admin.v1;" in proto.read_text()
    """)
    out = _run([str(python), "-c", script], cwd=tmp_path).stdout
    assert out.startswith("127.0.0.1:")


def test_console_script_and_python_dash_m_print_the_version(venv, tmp_path):
    for cmd in ([str(venv / "bin" / "etcdlite"), "--version"],
                [str(venv / "bin" / "python"), "-m", "etcdlite", "--version"]):
        out = _run(cmd, cwd=tmp_path).stdout
        assert "etcdlite" in out, cmd


USER_TEST = """
import grpc

from etcdlite.proto import rpc_pb2, rpc_pb2_grpc
from server import handler


def test_own_server_package_and_etcdlite_fixture(etcdlite):
    assert handler() == "mine"
    kv = rpc_pb2_grpc.KVStub(etcdlite.channel)
    assert kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v")).header.revision == 2
"""


@pytest.mark.parametrize("runner", [["pytest"], ["python", "-m", "pytest"]], ids=["pytest", "python-m-pytest"])
def test_a_project_with_its_own_server_package_runs_pytest_with_the_fixture(venv, tmp_path, runner):
    project = tmp_path / "project"
    (project / "server").mkdir(parents=True)
    (project / "server" / "__init__.py").write_text('def handler():\n    return "mine"\n')
    (project / "tests").mkdir()
    (project / "tests" / "test_app.py").write_text(USER_TEST)
    (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["."]\n')
    binary = venv / "bin" / runner[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH"))}
    proc = subprocess.run([str(binary), *runner[1:], "-q", "-p", "no:cacheprovider"], cwd=project,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
