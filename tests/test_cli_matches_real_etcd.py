"""The same command line, ETCD_* environment or --config-file gives etcdlite the identity real etcd
3.4.23 and 3.5.1 take from it, and the same refusal in the same words.

Each server runs as a subprocess on free 127.0.0.1 ports with its own temporary data dir, and is
stopped by its PID.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import grpc
import pytest
import yaml

from etcd_targets import _wait_for_etcd, etcd_binary, free_port
from etcdlite.cluster import cluster_id, member_id
from etcdlite.proto import rpc_pb2, rpc_pb2_grpc

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADVERTISED_PEER = "http://10.20.30.40:2380"
TOKEN = "dual-target-token"
NAME = "node-a"
REAL = {"etcd-3.4": "3.4", "etcd-3.5": "3.5"}


def _command(target: str) -> list[str]:
    if target == "etcdlite":
        return [sys.executable, "-m", "etcdlite"]
    binary = etcd_binary(REAL[target])
    if binary is None:
        pytest.skip(f"real etcd {REAL[target]} not installed")
    return [binary]


def _clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}
    env.update(PYTHONPATH=REPO, **(extra or {}))
    return env


def _settings(data_dir: str) -> tuple[dict[str, str], str]:
    client, peer = free_port(), free_port()
    url = f"http://127.0.0.1:{client}"
    return {
        "name": NAME, "data-dir": data_dir,
        "listen-client-urls": url, "advertise-client-urls": url,
        "listen-peer-urls": f"http://127.0.0.1:{peer}",
        "initial-advertise-peer-urls": ADVERTISED_PEER,
        "initial-cluster": f"{NAME}={ADVERTISED_PEER}",
        "initial-cluster-token": TOKEN, "initial-cluster-state": "new",
        "heartbeat-interval": "100", "election-timeout": "1000", "snapshot-count": "10000",
        "quota-backend-bytes": str(1 << 30), "max-txn-ops": "256", "max-request-bytes": "1572864",
        "logger": "zap", "log-outputs": "stderr", "log-level": "error",
    }, f"127.0.0.1:{client}"


_INTEGER_KEYS = {"heartbeat-interval", "election-timeout", "snapshot-count", "quota-backend-bytes",
                 "max-txn-ops", "max-request-bytes"}


def _launch(target: str, how: str, tmp_path) -> tuple[subprocess.Popen, str]:
    settings, endpoint = _settings(str(tmp_path / f"{target}-{how}.data"))
    argv, env = [], {}
    if how == "flags":
        argv = [f"--{name}={value}" for name, value in settings.items()]
    elif how == "env":
        env = {"ETCD_" + name.upper().replace("-", "_"): value for name, value in settings.items()}
    else:
        document = {k: (int(v) if k in _INTEGER_KEYS else v) for k, v in settings.items()}
        document["log-outputs"] = [settings["log-outputs"]]
        path = tmp_path / f"{target}.conf.yml"
        path.write_text(yaml.safe_dump(document))
        argv = ["--config-file", str(path)]
    stderr = open(tmp_path / f"{target}-{how}.stderr", "w")
    proc = subprocess.Popen(_command(target) + argv, cwd=str(tmp_path), env=_clean_env(env),
                            stdout=subprocess.DEVNULL, stderr=stderr)
    stderr.close()
    return proc, endpoint


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _identity(target: str, how: str, tmp_path) -> dict:
    proc, endpoint = _launch(target, how, tmp_path)
    try:
        assert _wait_for_etcd(proc, endpoint), (tmp_path / f"{target}-{how}.stderr").read_text()
        with grpc.insecure_channel(endpoint) as channel:
            members = rpc_pb2_grpc.ClusterStub(channel).MemberList(
                rpc_pb2.MemberListRequest(), timeout=10).members
            status = rpc_pb2_grpc.MaintenanceStub(channel).Status(rpc_pb2.StatusRequest(), timeout=10)
    finally:
        _stop(proc)
    return {
        "members": [(m.ID, m.name, list(m.peerURLs), [u.replace(endpoint, "<own>") for u in m.clientURLs])
                    for m in members],
        "cluster_id": status.header.cluster_id,
        "member_id": status.header.member_id,
    }


@pytest.mark.parametrize("how", ["flags", "env", "config-file"])
def test_etcd_settings_give_the_same_member_and_cluster_as_real_etcd(how, tmp_path):
    expected_member = member_id([ADVERTISED_PEER], TOKEN)
    ours = _identity("etcdlite", how, tmp_path)
    assert ours == {"members": [(expected_member, NAME, [ADVERTISED_PEER], ["http://<own>"])],
                    "cluster_id": cluster_id([expected_member]), "member_id": expected_member}
    compared = 0
    for target, version in REAL.items():
        if etcd_binary(version) is None:
            continue
        assert _identity(target, how, tmp_path) == ours, target
        compared += 1
    if not compared:
        pytest.skip("no real etcd installed")


# -- refusals in etcd's words -----------------------------------------------------------------

_ETCD35_ERRORS = ("failed to verify flags", "failed to start etcd")
_ETCD34_VERIFY = "etcdmain: error verifying flags, "


def _first_error(version: str, stderr: str) -> str:
    """The error a failed etcd start reports, without its logger's decoration."""
    for line in stderr.splitlines():
        if version == "3.5":
            if not line.startswith("{"):
                return line
            record = json.loads(line)
            if record.get("msg") in _ETCD35_ERRORS:
                return record["error"]
        else:
            if line[:4].isdigit() and " | " in line:
                body = line.split(" | ", 1)[1]
                if body.startswith(_ETCD34_VERIFY):
                    return body[len(_ETCD34_VERIFY):].removesuffix(". See 'etcd --help'.")
                if body.startswith("pkg/flags: conflicting"):
                    return body[len("pkg/flags: "):]
                continue
            if not line.startswith("["):
                return line
    return stderr


def _fails(command: list[str], args: list[str], env: dict[str, str], tmp_path) -> tuple[int, str]:
    client, peer = free_port(), free_port()
    data_dir = tmp_path / f"data-{time.monotonic_ns()}"
    common = ["--data-dir", str(data_dir), "--listen-client-urls", f"http://127.0.0.1:{client}",
              "--advertise-client-urls", f"http://127.0.0.1:{client}",
              "--listen-peer-urls", f"http://127.0.0.1:{peer}"]
    proc = subprocess.Popen(command + common + args, cwd=str(tmp_path), env=_clean_env(env),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        _stop(proc)
        pytest.fail(f"{command[0]} {args} started instead of failing")
    return proc.returncode, err


REFUSALS = [
    ([], ["--no-such-flag"], {}, ("3.4", "3.5")),
    ([], ["--max-txn-ops=zero"], {}, ("3.4", "3.5")),
    ([], ["--enable-v2=maybe"], {}, ("3.4", "3.5")),
    ([], ["--initial-cluster-state=bogus"], {}, ("3.4", "3.5")),
    ([], ["--enable-v2", "false"], {}, ("3.4", "3.5")),
    ([], ["--heartbeat-interval=0"], {}, ("3.4", "3.5")),
    ([], ["--election-timeout=300"], {}, ("3.4", "3.5")),
    ([], ["--name", "a"], {"ETCD_NAME": "b"}, ("3.4",)),
    ([], ["--name", "foo", "--initial-cluster", "bar=http://localhost:2380"], {}, ("3.5",)),
    ([], ["--initial-advertise-peer-urls", "http://127.0.0.1:2380"], {}, ("3.5",)),
    ([], ["--initial-cluster", "default=http://localhost:2381"], {}, ("3.5",)),
    ([], ["--initial-advertise-peer-urls", "http://localhost:2380,http://localhost:2381"], {}, ("3.5",)),
    ([], ["--initial-cluster", "default=http://localhost:2380,b=http://localhost:2380"], {}, ("3.5",)),
    ([], ["--initial-cluster", "default=localhost:2380"], {}, ("3.5",)),
]


@pytest.mark.parametrize("_, args, env, versions", REFUSALS, ids=[" ".join(r[1]) for r in REFUSALS])
def test_a_command_line_etcd_refuses_is_refused_in_the_same_words(_, args, env, versions, tmp_path):
    status, err = _fails([sys.executable, "-m", "etcdlite"], args, env, tmp_path)
    lines = err.strip().splitlines()
    assert status != 0 and len(lines) == 1 and lines[0].startswith("etcdlite: "), err
    ours = lines[0][len("etcdlite: "):]
    compared = 0
    for version in versions:
        binary = etcd_binary(version)
        if binary is None:
            continue
        etcd_status, etcd_err = _fails([binary], args, env, tmp_path)
        assert etcd_status != 0
        assert _first_error(version, etcd_err) == ours, version
        compared += 1
    if not compared:
        pytest.skip("no real etcd installed")
