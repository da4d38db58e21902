"""Every code block of README.md runs as written, or is marked as not code.

A block is one of:

- a ``python`` block: run as a program in a subprocess (cwd a fresh temp dir, with a timeout);
- a ``python`` block after ``<!-- pytest-example: ... -->``: run with pytest as a test file;
- a terminal session (lines ``$ command``, each followed by the output it shows): the commands run in
  one bash against an etcdlite started by its command line for the test, and every command's output
  must match the lines shown (``...`` stands for any text); a command shown without output must
  succeed;
- one of the two set-up commands (``pip install . && etcdlite``, ``pip install -e '.[test]' &&
  python -m pytest -q``): the install is checked, not run (this etcdlite is installed from this
  repository, with the test extras), and the command after it is run (``etcdlite`` in a fresh
  directory: default data dir, SIGINT stops it; ``python -m pytest -q`` collects the suite);
- marked as not code: ``<!-- not-code: why -->`` before it, or the info string ``text``.

Anything else is a block this test does not know how to run, and fails it.

Servers started for the shell blocks listen on 127.0.0.1:2379 as written, inside a private network
namespace (``unshare --net``) where that port is always free; where namespaces are unavailable they
listen on a free port instead, and etcdctl is pointed at it with ``ETCDCTL_ENDPOINTS``.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from etcd_targets import free_port

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
RUN_TIMEOUT = 120
SERVER_START_TIMEOUT = 20

_FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
_MARKER = re.compile(r"^<!--\s*(not-code|pytest-example)\s*:\s*(.*?)\s*-->$")
_SHELL_INFO = {"", "console", "shell", "sh", "bash"}

INSTALL_AND_START = "pip install . && etcdlite"
INSTALL_AND_TEST = "pip install -e '.[test]' && python -m pytest -q -n 2"


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the block's first line (the opening fence)
    fenced: bool
    info: str
    text: str
    marker: str | None = None
    marker_note: str = ""

    @property
    def kind(self) -> str:
        if self.marker == "not-code" or self.info == "text":
            return "not-code"
        if self.info == "python":
            return "pytest-example" if self.marker == "pytest-example" else "python"
        if self.info in _SHELL_INFO:
            lines = self.text.strip().splitlines()
            if lines and lines[0].startswith("$ "):
                return "session"
            if self.text.strip() == INSTALL_AND_START:
                return "install-and-start"
            if self.text.strip() == INSTALL_AND_TEST:
                return "install-and-test"
        return "unknown"

    @property
    def id(self) -> str:
        return f"line{self.line}-{self.kind}"


def parse_blocks(markdown: str) -> list[Block]:
    """The fenced and the indented (four spaces, after a blank line) code blocks of ``markdown``."""
    lines = markdown.splitlines()
    blocks: list[Block] = []
    i = 0

    def marker_before(index: int) -> tuple[str | None, str]:
        j = index - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        match = _MARKER.match(lines[j].strip()) if j >= 0 else None
        return (match.group(1), match.group(2)) if match else (None, "")

    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            end = i + 1
            while end < len(lines) and lines[end].rstrip() != "```":
                end += 1
            if end == len(lines):
                raise AssertionError(f"README.md line {i + 1}: code fence never closed")
            blocks.append(Block(i + 1, True, fence.group(1), "\n".join(lines[i + 1:end]) + "\n",
                                *marker_before(i)))
            i = end + 1
            continue
        if line.startswith("    ") and line.strip() and (i == 0 or not lines[i - 1].strip()):
            end = i
            while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
                end += 1
            while not lines[end - 1].strip():
                end -= 1
            text = "\n".join(x[4:] for x in lines[i:end]) + "\n"
            blocks.append(Block(i + 1, False, "", text, *marker_before(i)))
            i = end
            continue
        i += 1
    return blocks


BLOCKS = parse_blocks(README.read_text())
RUNNABLE = [block for block in BLOCKS if block.kind != "not-code"]


# -- the inventory ----------------------------------------------------------------------------

def test_every_fence_of_the_readme_belongs_to_a_block():
    fences = [n for n, line in enumerate(README.read_text().splitlines(), 1) if line.startswith("```")]
    assert len(fences) == 2 * sum(block.fenced for block in BLOCKS)


def test_every_block_is_run_or_marked_as_not_code():
    unknown = [(block.line, block.info, block.text[:60]) for block in BLOCKS if block.kind == "unknown"]
    assert unknown == [], "README blocks this test cannot run: mark them or teach the test"
    for block in BLOCKS:
        if block.marker == "not-code":
            assert block.marker_note, f"line {block.line}: say why the block is not code"
    kinds = {block.kind for block in BLOCKS}
    assert kinds >= {"python", "pytest-example", "session", "install-and-start", "install-and-test",
                     "not-code"}, kinds


@pytest.mark.parametrize("block", RUNNABLE, ids=[block.id for block in RUNNABLE])
def test_the_block_runs_as_written(block: Block, tmp_path: Path):
    run = _RUNNERS.get(block.kind)
    if run is None:
        pytest.fail(f"README.md line {block.line}: no way to run a {block.kind!r} block "
                    f"(a bug in this test, or a block to mark as not code)")
    run(block, tmp_path)


# -- python -----------------------------------------------------------------------------------

def _clean_env(**extra: str) -> dict[str, str]:
    """The environment of a reader's shell: nothing this test run set for itself."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "ETCD_", "ETCDCTL_", "ETCDLITE_"))
           and k not in {"PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "PYTHONPATH"}}
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    env.update(extra)
    return env


def _run(cmd: list[str], cwd: Path, timeout: float = RUN_TIMEOUT, **kwargs) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{cmd} did not finish within {timeout}s:\n{exc.stdout}\n{exc.stderr}")


def _explain(block: Block, proc: subprocess.CompletedProcess) -> str:
    return (f"README.md line {block.line} exited {proc.returncode}\n--- block ---\n{block.text}"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}")


#: set by scripts/test_dependency_bounds.sh, whose venvs leave out what cannot install there
DEPENDENCY_BOUNDS = os.environ.get("ETCDLITE_DEPENDENCY_BOUNDS")


def _require_imports(block: Block) -> None:
    """A block's clients must be installed; only the dependency-bounds runs may lack one (aetcd
    needs a newer grpcio and protobuf than the oldest etcdlite accepts), and they skip it."""
    import importlib.util

    names = set(re.findall(r"^(?:import|from) (\w+)", block.text, re.M))
    absent = sorted(n for n in names if importlib.util.find_spec(n) is None)
    if absent and DEPENDENCY_BOUNDS:
        pytest.skip(f"{', '.join(absent)} not installed in the {DEPENDENCY_BOUNDS} dependency run")


def run_python(block: Block, tmp_path: Path) -> None:
    _require_imports(block)
    program = tmp_path / "readme_block.py"
    program.write_text(block.text)
    proc = _run([sys.executable, str(program)], tmp_path, env=_clean_env())
    assert proc.returncode == 0, _explain(block, proc)


def run_pytest_example(block: Block, tmp_path: Path) -> None:
    _require_imports(block)
    (tmp_path / "test_readme_example.py").write_text(block.text)
    proc = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 "test_readme_example.py"], tmp_path, env=_clean_env())
    assert proc.returncode == 0, _explain(block, proc)
    tests = len(re.findall(r"^def test_", block.text, re.M))
    assert re.search(rf"\b{tests} passed\b", proc.stdout), _explain(block, proc)


# -- shell: a private network for servers on etcd's default port ------------------------------

@functools.lru_cache(maxsize=None)
def _private_network() -> bool:
    if not (shutil.which("unshare") and shutil.which("ip")):
        return False
    probe = subprocess.run(["unshare", "--net", "ip", "link", "set", "lo", "up"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


@dataclass
class Shell:
    """How the shell blocks reach their server: 127.0.0.1:2379 in a private network, or a free port."""

    endpoint: str
    etcdlite_args: list[str]
    env: dict[str, str]
    wrapper: list[str]
    prelude: str


def _shell() -> Shell:
    if _private_network():
        return Shell("127.0.0.1:2379", [], {}, ["unshare", "--net"], "ip link set lo up || exit 97\n")
    port = free_port()
    return Shell(f"127.0.0.1:{port}", ["--listen-client-urls", f"http://127.0.0.1:{port}"],
                 {"ETCDCTL_ENDPOINTS": f"127.0.0.1:{port}"}, [], "")


def _etcdlite_command() -> str:
    command = shutil.which("etcdlite", path=_clean_env()["PATH"])
    assert command, "the set-up installs the `etcdlite` command, but it is not on PATH"
    return command


def _start_server(shell: Shell, log: str = "server.log") -> str:
    """Bash lines starting ``etcdlite`` in the background as the set-up does (``$pid``)."""
    args = " ".join(shlex.quote(a) for a in [_etcdlite_command(), *shell.etcdlite_args])
    return textwrap.dedent(f"""\
        {args} > {log} 2>&1 &
        pid=$!
        for _ in $(seq {SERVER_START_TIMEOUT * 20}); do
            grep -q "serving on" {log} && break
            kill -0 $pid 2>/dev/null || break
            sleep 0.05
        done
        grep -q "serving on" {log} || {{ echo "@@start-failed"; cat {log}; kill $pid; exit 90; }}
    """)


_STOP_SERVER = 'kill -INT $pid; wait $pid; echo "@@server-exit $?"\n'


def _run_script(shell: Shell, script: str, cwd: Path) -> subprocess.CompletedProcess:
    path = cwd / "readme_session.sh"
    path.write_text(shell.prelude + script)
    return _run([*shell.wrapper, "bash", str(path)], cwd, env=_clean_env(**shell.env))


def _session_commands(text: str) -> list[tuple[str, list[str]]]:
    commands: list[tuple[str, list[str]]] = []
    for line in text.rstrip("\n").splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        else:
            commands[-1][1].append(line)
    return commands


def _matches(expected: list[str], actual: list[str]) -> bool:
    if len(expected) != len(actual):
        return False
    for want, got in zip(expected, actual):
        pattern = ".*".join(re.escape(part) for part in want.split("..."))
        if not re.fullmatch(pattern, got.rstrip()):
            return False
    return True


def run_session(block: Block, tmp_path: Path) -> None:
    if shutil.which("etcdctl", path=_clean_env()["PATH"]) is None:
        pytest.skip("the terminal session needs etcdctl (apt-get install etcd-client)")
    shell = _shell()
    commands = _session_commands(block.text)
    script = [_start_server(shell)]
    for i, (command, _) in enumerate(commands):
        command = command.replace("127.0.0.1:2379", shell.endpoint)  # curl's URLs, as etcdctl's
        script.append(f'echo "@@cmd {i}"\n{{ {command}\n}} 2>&1\necho "@@rc {i} $?"\n')
    script.append(_STOP_SERVER)
    proc = _run_script(shell, "".join(script), tmp_path)
    assert "@@start-failed" not in proc.stdout, _explain(block, proc)
    outputs: dict[int, list[str]] = {}
    codes: dict[int, int] = {}
    current: list[str] | None = None
    for line in proc.stdout.splitlines():
        if "@@rc " in line and not line.startswith("@@rc "):  # output without a final newline
            line, marker = line.split("@@rc ", 1)
            if current is not None:
                current.append(line)
            line = "@@rc " + marker
        if line.startswith("@@cmd "):
            current = outputs.setdefault(int(line.split()[1]), [])
        elif line.startswith("@@rc "):
            _, i, rc = line.split()
            codes[int(i)] = int(rc)
            current = None
        elif current is not None:
            current.append(line)
    assert len(codes) == len(commands), _explain(block, proc)
    for i, (command, expected) in enumerate(commands):
        assert codes[i] == 0, f"`{command}` exited {codes[i]}: {outputs[i]}"
        if expected:
            assert _matches(expected, outputs[i]), \
                f"`{command}` printed\n{chr(10).join(outputs[i])}\nbut the README shows\n{chr(10).join(expected)}"
    assert "@@server-exit 0" in proc.stdout, _explain(block, proc)


# -- the set-up commands ----------------------------------------------------------------------

def _installed_from_this_repository(editable: bool) -> importlib.metadata.Distribution:
    """The etcdlite that ``import etcdlite`` finds outside the repository is this repository's."""
    probe = subprocess.run(
        [sys.executable, "-c", "import etcdlite, json, importlib.metadata as m; "
         "d = m.distribution('etcdlite'); "
         "print(json.dumps([etcdlite.__file__, d.read_text('direct_url.json')]))"],
        cwd="/", capture_output=True, text=True, env=_clean_env(), timeout=60)
    assert probe.returncode == 0, probe.stderr
    module_file, direct_url = json.loads(probe.stdout)
    assert Path(module_file).resolve() == REPO / "server" / "__init__.py" or not editable
    if editable:
        origin = json.loads(direct_url or "{}")
        assert origin.get("dir_info", {}).get("editable") is True, origin
        assert origin.get("url") == REPO.as_uri(), origin
    return importlib.metadata.distribution("etcdlite")


def run_install_and_start(block: Block, tmp_path: Path) -> None:
    """``pip install .``: installed, with the ``etcdlite`` command; ``etcdlite``: in a fresh
    directory it serves on 127.0.0.1:2379 with its data in ./default.etcdlite, SIGINT stops it
    (exit status 0) and a restart finds the data."""
    _installed_from_this_repository(editable=False)
    shell = _shell()
    client = tmp_path / "client.py"
    client.write_text(textwrap.dedent(f"""\
        import sys, grpc
        from etcdlite.proto import rpc_pb2, rpc_pb2_grpc
        with grpc.insecure_channel({shell.endpoint!r}) as channel:
            kv = rpc_pb2_grpc.KVStub(channel)
            if sys.argv[1] == "put":
                print("@@put", kv.Put(rpc_pb2.PutRequest(key=b"greeting", value=b"hello"), timeout=10).header.revision)
            else:
                print("@@get", [x.value.decode() for x in kv.Range(rpc_pb2.RangeRequest(key=b"greeting"), timeout=10).kvs])
    """))
    work = tmp_path / "cwd"
    work.mkdir()
    python = shlex.quote(sys.executable)
    script = (f"cd {shlex.quote(str(work))}\n" + _start_server(shell, "../first.log")
              + f"{python} ../client.py put\n" + _STOP_SERVER
              + 'test -d default.etcdlite && echo "@@data-dir"\n'
              + _start_server(shell, "../second.log") + f"{python} ../client.py get\n" + _STOP_SERVER)
    proc = _run_script(shell, script, tmp_path)
    assert "@@start-failed" not in proc.stdout, _explain(block, proc)
    assert proc.stdout.count("@@server-exit 0") == 2, _explain(block, proc)
    assert "@@put 2" in proc.stdout and "@@data-dir" in proc.stdout, _explain(block, proc)
    assert "@@get ['hello']" in proc.stdout, _explain(block, proc)
    first_log = (tmp_path / "first.log").read_text()
    assert f"serving on http://{shell.endpoint}" in first_log
    assert "data dir default.etcdlite" in first_log


def run_install_and_test(block: Block, tmp_path: Path) -> None:
    """``pip install -e '.[test]'``: installed editable from here, every test extra present;
    ``python -m pytest -q``: from the repository it finds and collects the whole suite."""
    from packaging.requirements import Requirement

    if DEPENDENCY_BOUNDS:
        pytest.skip(f"the {DEPENDENCY_BOUNDS} dependency run installs the test extra only in part")
    distribution = _installed_from_this_repository(editable=True)
    missing = []
    for spec in distribution.requires or []:
        requirement = Requirement(spec)
        if requirement.marker is None or not requirement.marker.evaluate({"extra": "test"}):
            continue
        try:
            version = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(f"{requirement} (not installed)")
            continue
        if not requirement.specifier.contains(version, prereleases=True):
            missing.append(f"{requirement} (installed {version})")
    assert missing == []
    proc = _run([sys.executable, "-m", "pytest", "-q", "--collect-only", "-p", "no:cacheprovider"],
                REPO, env=_clean_env())
    assert proc.returncode == 0, _explain(block, proc)
    assert re.search(r"^\d+ tests collected", proc.stdout, re.M), _explain(block, proc)


_RUNNERS = {
    "python": run_python,
    "pytest-example": run_pytest_example,
    "session": run_session,
    "install-and-start": run_install_and_start,
    "install-and-test": run_install_and_test,
}
