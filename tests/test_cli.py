"""The command line: etcd's flag names, one-line errors with a non-zero exit, a working server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import grpc

from etcd_targets import free_port
from etcdlite.proto import rpc_pb2, rpc_pb2_grpc

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _etcdlite(*args: str, cwd: str = REPO) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "etcdlite", *args], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=REPO))


def _fails_with_one_line(*args: str, cwd: str = REPO) -> str:
    proc = _etcdlite(*args, cwd=cwd)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_unknown_flag_is_a_one_line_error_in_go_flag_wording():
    assert _fails_with_one_line("--no-such-flag") == "etcdlite: flag provided but not defined: -no-such-flag"


def test_bad_flag_value_is_a_one_line_error_in_go_flag_wording():
    assert _fails_with_one_line("--max-txn-ops", "zero") == \
        'etcdlite: invalid value "zero" for flag -max-txn-ops: parse error'


def test_bad_listen_url_is_a_one_line_error(tmp_path):
    line = _fails_with_one_line("--data-dir", str(tmp_path / "d"), "--listen-client-urls", "127.0.0.1:2379")
    assert "URL" in line


def test_port_in_use_is_a_one_line_error(tmp_path):
    port = free_port()
    first = _etcdlite("--data-dir", "", "--listen-client-urls", f"http://127.0.0.1:{port}")
    try:
        assert "serving on" in first.stdout.readline()
        line = _fails_with_one_line("--data-dir", "", "--listen-client-urls", f"http://127.0.0.1:{port}")
        assert line == f"etcdlite: cannot listen on http://127.0.0.1:{port}: address in use or not available"
    finally:
        first.terminate()
        first.communicate(timeout=30)


def test_etcd_data_dir_is_refused(tmp_path):
    (tmp_path / "member").mkdir()
    line = _fails_with_one_line("--data-dir", str(tmp_path), "--listen-client-urls",
                                f"http://127.0.0.1:{free_port()}")
    assert "is an etcd data dir" in line


def test_unwritable_data_dir_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    line = _fails_with_one_line("--data-dir", str(blocker / "data"), "--listen-client-urls",
                                f"http://127.0.0.1:{free_port()}")
    assert "cannot create data dir" in line


def test_default_data_dir_is_created_in_the_working_directory_and_serves(tmp_path):
    port = free_port()
    proc = _etcdlite("--listen-client-urls", f"http://127.0.0.1:{port}", cwd=str(tmp_path))
    try:
        assert proc.stdout.readline().strip() == f"etcdlite: serving on http://127.0.0.1:{port}"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            put = rpc_pb2_grpc.KVStub(channel).Put(rpc_pb2.PutRequest(key=b"k", value=b"v"))
        assert put.header.revision == 2
        assert (tmp_path / "default.etcdlite").is_dir()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_progress_notify_interval_takes_go_durations():
    from etcdlite.__main__ import parse_args
    assert parse_args(["--experimental-watch-progress-notify-interval", "1m30s"]).watch_progress_notify_interval == 90
    assert parse_args(["--experimental-watch-progress-notify-interval", "100ms"]).watch_progress_notify_interval == 0.1
    assert parse_args([]).watch_progress_notify_interval == 600


def test_bad_duration_is_a_one_line_error():
    assert _fails_with_one_line("--experimental-watch-progress-notify-interval", "10 min") == (
        'etcdlite: invalid value "10 min" for flag -experimental-watch-progress-notify-interval: '
        "parse error")


def test_ctrl_c_during_start_up_ends_without_a_traceback(tmp_path):
    for delay in (0.05, 0.3, 0.8):
        proc = _etcdlite("--data-dir", str(tmp_path / f"d{delay}"), "--listen-client-urls",
                         f"http://127.0.0.1:{free_port()}")
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        if err.startswith("Fatal Python error: init_import_site") or (
                "KeyboardInterrupt" in err and "<frozen runpy>" in err and "__main__.py" not in err):
            # on a loaded machine the signal can land in CPython's own start-up (site.py, or runpy
            # importing the package before etcdlite's __main__ runs): not yet etcdlite's code
            continue
        assert "Traceback" not in err, err
        # -SIGINT: the signal came while the interpreter was still starting, before Python
        # installs its own SIGINT handler, so the default action ended the process (no output).
        assert proc.returncode in (0, 130, -signal.SIGINT), (proc.returncode, err)


def test_sigterm_stops_a_running_server_cleanly(tmp_path):
    proc = _etcdlite("--memory", "--listen-client-urls", f"http://127.0.0.1:{free_port()}")
    assert "serving on" in proc.stdout.readline()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in err


def test_version_flag_prints_both_versions():
    from etcdlite import ETCD_VERSION, __version__
    proc = _etcdlite("--version")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert out.splitlines()[:2] == [f"etcdlite Version: {__version__}", f"etcd Version: {ETCD_VERSION}"]
