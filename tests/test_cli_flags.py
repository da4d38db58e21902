"""Reading etcd's command lines, ETCD_* environment and --config-file as etcd 3.5 does (in process)."""

from __future__ import annotations

import logging

import pytest

from etcdlite import ETCD_VERSION, __version__
from etcdlite.cli import CommandLineError, Exit, help_text, load
from etcdlite.flags import FLAGS, LEGACY


def _load(*argv: str, env: dict[str, str] | None = None):
    return load(list(argv), env or {})


def _config(*argv: str, env: dict[str, str] | None = None):
    return _load(*argv, env=env)[0]


def _error(*argv: str, env: dict[str, str] | None = None) -> CommandLineError:
    with pytest.raises(CommandLineError) as info:
        _load(*argv, env=env)
    return info.value


def _notes(*argv: str, env: dict[str, str] | None = None) -> list[str]:
    return [text for level, text in _load(*argv, env=env)[2].notes if level >= logging.WARNING]


def test_a_flag_prefix_is_not_taken_for_a_longer_flag():
    assert str(_error("--initial-cluster-tok", "x")) == "flag provided but not defined: -initial-cluster-tok"
    config = _config("--initial-cluster", "default=http://localhost:2380")
    assert config.initial_cluster_token == "etcd-cluster"


def test_go_flag_forms_are_all_accepted():
    for argv in (["--name=a"], ["--name", "a"], ["-name", "a"], ["-name=a"]):
        assert _config(*argv, "--memory").name == "a"
    assert _config("--memory").data_dir is None
    assert _config("--memory=true").data_dir is None
    assert _config("--memory=false", "--data-dir", "d").data_dir == "d"


def test_a_boolean_flag_does_not_take_the_next_argument():
    assert str(_error("--enable-v2", "false")) == "'false' is not a valid flag"


def test_the_last_occurrence_of_a_flag_wins():
    assert _config("--name", "a", "--name", "b", "--memory").name == "b"


def test_go_syntax_errors_exit_with_status_2():
    error = _error("--max-txn-ops")
    assert (str(error), error.status) == ("flag needs an argument: -max-txn-ops", 2)
    assert str(_error("---x")) == "bad flag syntax: ---x"
    assert str(_error("--enable-v2=maybe")) == 'invalid boolean value "maybe" for -enable-v2: parse error'
    assert str(_error("--max-txn-ops=99999999999999999999")) == \
        'invalid value "99999999999999999999" for flag -max-txn-ops: value out of range'
    assert str(_error("--initial-cluster-state=bogus")) == \
        'invalid value "bogus" for flag -initial-cluster-state: invalid value'


def test_numbers_take_go_syntax():
    assert _config("--max-txn-ops", "0x10", "--memory").max_txn_ops == 16
    assert _config("--max-txn-ops", "1_000", "--memory").max_txn_ops == 1000


def test_default_identity_is_etcds_well_known_one():
    from etcdlite.cluster import member_id
    config = _config("--initial-cluster", "default=http://localhost:2380",
                     "--initial-advertise-peer-urls", "http://localhost:2380")
    assert f"{member_id(config.initial_advertise_peer_urls, config.initial_cluster_token):x}" == \
        "8e9e05c52164694d"


def test_name_alone_makes_the_initial_cluster_from_the_advertised_peer_urls():
    config = _config("--name", "n1", "--initial-advertise-peer-urls", "http://10.0.0.1:2380")
    assert config.initial_advertise_peer_urls == ["http://10.0.0.1:2380"]


def test_initial_cluster_errors_are_etcds():
    assert str(_error("--name", "foo", "--initial-cluster", "bar=http://localhost:2380")) == \
        'couldn\'t find local name "foo" in the initial cluster configuration'
    assert str(_error("--initial-advertise-peer-urls", "http://127.0.0.1:2380")) == (
        "--initial-cluster has default=http://localhost:2380 but missing from "
        "--initial-advertise-peer-urls=http://127.0.0.1:2380 "
        '("http://127.0.0.1:2380"(resolved from "http://127.0.0.1:2380") != '
        '"http://localhost:2380"(resolved from "http://localhost:2380"))')
    assert str(_error("--initial-cluster", "default=localhost:2380")) == \
        "error setting up initial cluster: URL scheme must be http, https, unix, or unixs: localhost:2380"


def test_several_members_in_the_initial_cluster_are_refused_in_one_line():
    message = str(_error("--initial-cluster", "default=http://localhost:2380,b=http://localhost:2390"))
    assert "2 members" in message and "single-node" in message and "\n" not in message


def test_initial_cluster_state_existing_is_refused_with_a_reason():
    assert "cannot join" in str(_error("--initial-cluster-state", "existing"))
    assert _config("--initial-cluster-state", "new", "--memory").name == "default"


def test_not_yet_supported_flags_are_refused_not_ignored():
    for argv in (["--client-crl-file", "crl.pem"], ["--client-cert-allowed-hostname", "x"]):
        assert "not supported yet" in str(_error(*argv, "--memory")), argv


def test_http_listener_flags_are_read_into_the_config():
    config = _config("--listen-metrics-urls", "http://127.0.0.1:2381",
                     "--listen-client-http-urls", "http://127.0.0.1:2382",
                     "--enable-grpc-gateway=false", "--memory")
    assert config.listen_metrics_urls == ["http://127.0.0.1:2381"]
    assert config.listen_client_http_urls == ["http://127.0.0.1:2382"]
    assert config.enable_grpc_gateway is False


def test_auto_compaction_flags_are_read_as_etcd_reads_them():
    config = _config("--auto-compaction-retention", "1h", "--memory")
    assert (config.auto_compaction_mode, config.auto_compaction_retention) == ("periodic", "1h")
    config = _config("--auto-compaction-mode", "revision", "--auto-compaction-retention", "1000",
                     "--memory")
    assert (config.auto_compaction_mode, config.auto_compaction_retention) == ("revision", "1000")
    # etcd 3.5.1's words (its log: "failed to start etcd", error ...)
    assert str(_error("--auto-compaction-retention", "bogus", "--memory")) == (
        'error parsing CompactionRetention: time: invalid duration "bogus"')
    assert str(_error("--auto-compaction-retention", "-5", "--memory")) == (
        'error parsing CompactionRetention: time: missing unit in duration "-5"')


def test_harmful_flags_are_refused():
    for argv in (["--enable-v2"], ["--proxy", "on"], ["--discovery", "https://discovery.etcd.io/x"]):
        assert "is refused" in str(_error(*argv)), argv


def test_harmless_flags_are_accepted_with_a_one_line_notice():
    notes = _notes("--snapshot-count", "5000", "--heartbeat-interval", "200", "--election-timeout",
                   "2000", "--peer-auto-tls", "--enable-pprof", "--memory")
    assert len(notes) == 5 and all("changes nothing here" in n for n in notes)
    assert _notes("--snapshot-count", "100000", "--logger", "zap", "--log-outputs", "stderr",
                  "--enable-v2=false", "--memory") == []


def test_etcds_timing_checks_apply():
    assert str(_error("--heartbeat-interval", "0")) == "--heartbeat-interval must be >0 (set to 0ms)"
    assert str(_error("--election-timeout", "300")) == \
        "--election-timeout[300ms] should be at least as 5 times as --heartbeat-interval[100ms]"


def test_legacy_flags_are_ignored_with_etcds_warning():
    assert _notes("-v", "--memory") == ['flag "-v" is no longer supported - ignoring.']


def test_environment_gives_flags_etcds_way():
    load_ = _load(env={"ETCD_NAME": "n1", "ETCD_DATA_DIR": "", "ETCD_MEMORY": "true",
                       "ETCD_MAX_TXN_OPS": "7", "ETCD_NO_SUCH": "x"})
    config, _, settings = load_
    assert (config.name, config.max_txn_ops, config.data_dir) == ("n1", 7, None)
    assert (logging.INFO, "recognized and used environment variable ETCD_NAME=n1") in settings.notes
    assert (logging.WARNING, "unrecognized environment variable ETCD_NO_SUCH=x") in settings.notes


def test_environment_shadowed_by_a_flag_is_refused_as_etcd_does():
    assert str(_error("--name", "a", env={"ETCD_NAME": "b"})) == (
        'conflicting environment variable "ETCD_NAME" is shadowed by corresponding command-line '
        "flag (either unset environment variable or disable flag)")


def test_bad_environment_value_is_reported_with_the_variable():
    assert str(_error(env={"ETCD_MAX_TXN_OPS": "zz"})) == 'invalid value "zz" for ETCD_MAX_TXN_OPS: parse error'


def test_config_file_with_etcd_keys_replaces_flags_and_environment(tmp_path):
    path = tmp_path / "etcd.conf.yml"
    path.write_text("name: fromfile\n"
                    "data-dir:\n"
                    "memory: true\n"
                    "listen-client-urls: http://127.0.0.1:23790,http://127.0.0.1:23791\n"
                    "initial-advertise-peer-urls: http://10.0.0.1:2380\n"
                    "initial-cluster: fromfile=http://10.0.0.1:2380\n"
                    "initial-cluster-token: tok\n"
                    "quota-backend-bytes: 1048576\n"
                    "max-txn-ops: 64\n"
                    "experimental-watch-progress-notify-interval: 60000000000\n"
                    "log-outputs: [stderr]\n"
                    "no-such-key: 1\n")
    config, _, settings = _load("--config-file", str(path), "--name", "ignored",
                                env={"ETCD_NAME": "ignored-too", "ETCD_NO_SUCH": "x"})
    assert (config.name, config.max_txn_ops, config.quota_backend_bytes) == ("fromfile", 64, 1048576)
    assert config.listen_client_urls == ["http://127.0.0.1:23790", "http://127.0.0.1:23791"]
    assert config.initial_advertise_peer_urls == ["http://10.0.0.1:2380"]
    assert config.watch_progress_notify_interval == 60
    texts = [text for _, text in settings.notes]
    assert any(t.startswith("loaded server configuration, other configuration command line flags "
                            "and environment variables will be ignored") for t in texts)
    assert any("no-such-key" in t for t in texts)
    assert not any("ETCD_NO_SUCH" in t for t in texts)


def test_config_file_from_the_environment(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("name: viaenv\nmemory: true\n")
    assert _config(env={"ETCD_CONFIG_FILE": str(path)}).name == "viaenv"


def test_config_file_errors_are_etcds(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("quota-backend-bytes: abc\n")
    assert str(_error("--config-file", str(path))) == (
        "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct "
        "field configYAML.quota-backend-bytes of type int64")
    assert str(_error("--config-file", str(tmp_path / "none.yml"))) == \
        f"open {tmp_path / 'none.yml'}: no such file or directory"
    path.write_text("client-transport-security:\n  crl-file: crl.pem\n")
    assert "not supported yet" in str(_error("--config-file", str(path)))


def test_memory_and_a_data_dir_contradict():
    assert "contradict" in str(_error("--memory", "--data-dir", "somewhere"))
    assert _config("--memory", "--data-dir", "").data_dir is None


def test_a_data_dir_that_is_a_file_is_named_as_such(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert str(_error("--data-dir", str(blocker))) == f"--data-dir {blocker} is a file, not a directory"


def test_default_data_dir_follows_the_name_as_in_etcd():
    assert _config().data_dir == "default.etcdlite"
    assert _config("--name", "n1").data_dir == "n1.etcdlite"


def test_quota_above_the_lmdb_map_is_capped_with_a_warning():
    from etcdlite.storage.lmdb_backend import MAX_QUOTA_BYTES, map_size_for_quota
    config, _, settings = _load("--quota-backend-bytes", str(1 << 50))
    assert config.quota_backend_bytes == MAX_QUOTA_BYTES
    assert any("LMDB" in text for _, text in settings.notes)
    assert map_size_for_quota(100 << 30) > 100 << 30
    assert _config("--quota-backend-bytes", str(1 << 50), "--memory").quota_backend_bytes == 1 << 50


def test_version_names_etcdlite_and_the_etcd_it_speaks():
    with pytest.raises(Exit) as info:
        _load("--version")
    assert f"etcdlite Version: {__version__}" in info.value.text
    assert f"etcd Version: {ETCD_VERSION}" in info.value.text


def test_help_groups_flags_as_etcd_does():
    text = help_text()
    for group in ("Member:", "Clustering:", "Security:", "Logging:", "Experimental feature:", "etcdlite:"):
        assert f"\n{group}\n" in text
    assert text.index("--name 'default'") < text.index("Clustering:") < text.index("--initial-cluster ")
    for flag in FLAGS:
        if flag.effect != LEGACY and flag.name != "version":
            assert f"  --{flag.name} '" in text, flag.name
    with pytest.raises(Exit):
        _load("-h")
