"""The command line: etcd's flags, ``ETCD_*`` environment variables and ``--config-file``, read as
etcd 3.5 reads them, into a :class:`Config`; then the server runs until SIGINT or SIGTERM.

Where the settings come from, as in etcd: with a config file (``--config-file`` or
``ETCD_CONFIG_FILE``) only the file counts, other flags and the environment are ignored; without
one, each flag not on the command line may come from ``ETCD_<FLAG>``, an ``ETCD_`` variable that
names no flag is warned about, and a variable shadowed by a flag given on the command line is an
error. The flag table is :mod:`etcdlite.flags`; etcd's wording is :mod:`etcdlite.etcd_messages`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import platform
import signal
import sys
from dataclasses import dataclass, field
from typing import Any, Mapping

from . import ETCD_VERSION, __version__
from . import config_file
from . import etcd_messages as msg
from .cluster import BootstrapError, bootstrap
from .compactor import RetentionError, parse_retention
from .config import Config
from .flags import BY_NAME, FLAGS, GROUPS, LEGACY, NOT_YET, NOTICE, REFUSE, USE, Flag
from .goflags import FlagSyntaxError, GoValueError, flag_to_env, parse_argv, parse_duration
from .interrupts import sigint_deferred
from .storage.lmdb_backend import MAX_QUOTA_BYTES as LMDB_MAX_QUOTA_BYTES

log = logging.getLogger("etcdlite")

LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
              "error": logging.ERROR, "panic": logging.CRITICAL, "fatal": logging.CRITICAL}

#: etcd exits with 2 for a command line it cannot parse, 1 for settings it refuses
EXIT_SYNTAX, EXIT_REFUSED = 2, 1


class CommandLineError(Exception):
    def __init__(self, message: str, status: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.status = status


class Exit(Exception):
    """--help or --version: print ``text`` and exit 0."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


@dataclass
class Settings:
    """Every flag's value, and which were set (on the command line, by ``ETCD_*`` or in the file)."""

    values: dict[str, Any]
    given: set[str]
    #: (logging level, text) to log once logging is set up
    notes: list[tuple[int, str]] = field(default_factory=list)
    config_file: str = ""


@dataclass
class LogSettings:
    level: int
    outputs: list[str]


# -- reading the sources ----------------------------------------------------------------------

def _convert(name: str, raw: str) -> Any:
    return BY_NAME[name].convert(raw)


def read_settings(argv: list[str], environ: Mapping[str, str]) -> Settings:
    """The flag values from the command line and the environment or the config file."""
    try:
        parsed = parse_argv(argv, {f.name: f.is_bool for f in FLAGS}, _convert)
    except FlagSyntaxError as exc:
        raise CommandLineError(str(exc), EXIT_SYNTAX) from None
    if parsed.help:
        raise Exit(help_text())
    if parsed.rest:
        raise CommandLineError(msg.NOT_A_VALID_FLAG.format(arg=parsed.rest[0]))
    if parsed.values.get("version"):
        raise Exit(version_text())
    path = parsed.values.get("config-file") or environ.get(flag_to_env("config-file"), "")
    if path:
        return _from_config_file(path, parsed.values, environ)
    return _from_command_line(parsed.values, environ)


def _from_command_line(given: dict[str, Any], environ: Mapping[str, str]) -> Settings:
    settings = Settings(values={}, given=set(given))
    settings.values.update(given)
    for name in given:
        if BY_NAME[name].effect == LEGACY:
            settings.notes.append((logging.WARNING, msg.IGNORED_FLAG.format(name=name)))
    used: set[str] = set()
    shadowed = {flag_to_env(name) for name in given}
    invalid: str | None = None
    for flag in FLAGS:
        key = flag_to_env(flag.name)
        if key in shadowed or not environ.get(key):
            continue
        raw = environ[key]
        used.add(key)
        try:
            settings.values[flag.name] = flag.convert(raw)
        except GoValueError as exc:
            invalid = invalid or msg.ENV_INVALID_VALUE.format(value=raw, key=key, error=exc)
            continue
        settings.given.add(flag.name)
        settings.notes.append((logging.INFO, msg.ENV_USED.format(key=key, value=raw)))
        if flag.effect == LEGACY:
            settings.notes.append((logging.WARNING, msg.IGNORED_FLAG.format(name=flag.name)))
    for key in sorted(environ):
        if key in used:
            continue
        if key in shadowed:
            raise CommandLineError(msg.ENV_SHADOWED.format(key=key))
        if key.startswith("ETCD_"):
            settings.notes.append((logging.WARNING,
                                   msg.ENV_UNRECOGNIZED.format(key=key, value=environ[key])))
    if invalid:
        raise CommandLineError(invalid)
    return settings


def _from_config_file(path: str, command_line: dict[str, Any],
                      environ: Mapping[str, str]) -> Settings:
    try:
        values, unknown = config_file.read(path)
    except config_file.ConfigFileError as exc:
        raise CommandLineError(str(exc)) from None
    settings = Settings(values=dict(values), given=set(values), config_file=path)
    others = set(command_line) - {"config-file"} or any(
        k.startswith("ETCD_") and k != flag_to_env("config-file") for k in environ)
    settings.notes.append((logging.WARNING if others else logging.INFO,
                           msg.CONFIG_FILE_LOADED.format(path=path)))
    for key in unknown:
        settings.notes.append((logging.WARNING, f"config file {path}: unknown key {key!r} ignored "
                                                "(as etcd does)"))
    return settings


# -- what etcdlite makes of them --------------------------------------------------------------

def _shown(flag: Flag, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


def _dispositions(settings: Settings) -> None:
    """Notices for flags that change nothing here; the first refused flag is an error."""
    for flag in FLAGS:
        if flag.name not in settings.given or flag.effect in (LEGACY, USE):
            continue
        value = settings.values[flag.name]
        if flag.is_harmless(value):
            continue
        if flag.effect == NOTICE:
            settings.notes.append((logging.WARNING,
                                   f"--{flag.name} changes nothing here: {flag.reason}"))
        elif flag.effect == REFUSE:
            raise CommandLineError(f"--{flag.name}={_shown(flag, value)} is refused: {flag.reason}")
        elif flag.effect == NOT_YET:
            raise CommandLineError(f"--{flag.name} is not supported yet ({flag.reason})")


def _validate_like_etcd(values: dict[str, Any]) -> None:
    """embed.Config.Validate and setupLogging: the checks etcd makes before it starts."""
    logger = values["logger"]
    if logger not in ("zap", "capnslog"):
        raise CommandLineError(msg.UNKNOWN_LOGGER.format(logger=logger))
    if values["log-level"] not in LOG_LEVELS:
        raise CommandLineError(msg.UNRECOGNIZED_LOG_LEVEL.format(level=values["log-level"]))
    tick, election = values["heartbeat-interval"], values["election-timeout"]
    if tick <= 0:
        raise CommandLineError(msg.HEARTBEAT_NOT_POSITIVE.format(ms=tick))
    if election <= 0:
        raise CommandLineError(msg.ELECTION_NOT_POSITIVE.format(ms=election))
    if 5 * tick > election:
        raise CommandLineError(msg.ELECTION_TOO_SHORT.format(election=election, heartbeat=tick))
    if election > msg.MAX_ELECTION_MS:
        raise CommandLineError(msg.ELECTION_TOO_LONG.format(election=election,
                                                            max=msg.MAX_ELECTION_MS))
    if values["auto-compaction-mode"] not in ("", "periodic", "revision"):
        raise CommandLineError(msg.UNKNOWN_COMPACTION_MODE.format(mode=values["auto-compaction-mode"]))


def _data_dir(settings: Settings, name: str) -> str | None:
    values, given = settings.values, settings.given
    data_dir = values["data-dir"] if "data-dir" in given else f"{name}.etcdlite"
    if values["memory"]:
        if "data-dir" in given and data_dir != "":
            raise CommandLineError(f"--memory and --data-dir {data_dir} contradict each other: "
                                   "give one of them (--memory keeps nothing on disk)")
        return None
    if data_dir == "":
        return None
    if os.path.exists(data_dir) and not os.path.isdir(data_dir):
        raise CommandLineError(f"--data-dir {data_dir} is a file, not a directory")
    return data_dir


def _quota(settings: Settings, data_dir: str | None) -> int:
    quota = settings.values["quota-backend-bytes"]
    if quota > msg.MAX_QUOTA_BYTES:
        settings.notes.append((logging.WARNING, msg.QUOTA_ABOVE_MAXIMUM.format(
            quota=quota, maximum=msg.MAX_QUOTA_BYTES)))
    if data_dir is not None and quota > LMDB_MAX_QUOTA_BYTES:
        settings.notes.append((logging.WARNING, f"--quota-backend-bytes {quota} is more than the "
                               f"LMDB backend can map; using {LMDB_MAX_QUOTA_BYTES}"))
        quota = LMDB_MAX_QUOTA_BYTES
    return quota


class _JwtOptionError(Exception):
    """A jwt option etcd's ``jwtOptions.Parse`` fails on (a key file, the ttl)."""


def _read_key_file(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise _JwtOptionError(f"open {path}: {(exc.strerror or str(exc)).lower()}") from None


def _jwt_duration(text: str) -> float:
    try:
        return parse_duration(text)
    except GoValueError:
        raise _JwtOptionError(f'time: invalid duration "{text}"') from None


def check_auth_token(value: str, ttl: int) -> None:
    """etcd's ``auth.NewTokenProvider`` at start: an option it cannot use ends etcd with "auth:
    invalid auth options" (what went wrong loading JWT options it logs just before; etcdlite
    gives it in brackets). ``""`` is etcd's no-token provider, accepted as etcd does."""
    if value == "":
        return
    from .auth.tokens import AuthOptionsError, parse_auth_token_option

    invalid = "auth: invalid auth options"
    try:
        kind, _, options = value.partition(",")
        if kind == "jwt":  # etcd reads the ttl, then pub-key, then priv-key: fail on the first
            pairs = dict(pair.partition("=")[::2] for pair in options.split(",") if pair)
            if pairs.get("ttl"):
                _jwt_duration(pairs["ttl"])
            for name in ("pub-key", "priv-key"):
                if pairs.get(name):
                    _read_key_file(pairs[name])
        parse_auth_token_option(value, ttl, _read_key_file, _jwt_duration)
    except _JwtOptionError as exc:
        raise CommandLineError(f"{invalid} (problem loading JWT options: {exc})") from None
    except AuthOptionsError as exc:
        if str(exc) == "auth: invalid auth signature method":
            raise CommandLineError(f"{invalid} (problem loading JWT options: {exc})") from None
        raise CommandLineError(str(exc)) from None
    except (ValueError, TypeError) as exc:  # a key file that is no PEM key of that kind
        raise CommandLineError(f"auth: cannot load the JWT key: {exc}") from None


def _bcrypt_cost(settings: Settings) -> int:
    """etcd's auth store takes a cost outside bcrypt's range as the default, with a warning."""
    cost = settings.values["bcrypt-cost"]
    if not msg.BCRYPT_MIN_COST <= cost <= msg.BCRYPT_MAX_COST:
        settings.notes.append((logging.WARNING, msg.BCRYPT_INVALID_COST.format(
            min=msg.BCRYPT_MIN_COST, max=msg.BCRYPT_MAX_COST, default=msg.BCRYPT_DEFAULT_COST,
            given=cost)))
        return msg.BCRYPT_DEFAULT_COST
    return cost


def _check_https_urls(values: dict[str, Any]) -> None:
    """etcd's first client-listener check, made before it looks at the auth token (the runtime
    makes it again for servers configured in code)."""
    if values["cert-file"] or values["key-file"] or values["auto-tls"]:
        return
    for url in values["listen-client-urls"]:
        if url.startswith("https://"):
            raise CommandLineError(msg.HTTPS_WITHOUT_CERT.format(url=url))


def _tls_settings(values: dict[str, Any]) -> dict[str, Any]:
    """The client TLS settings of Config, after etcd's checks of the version and cipher flags."""
    from .tls import TLSOptionError, check_tls_options

    try:
        check_tls_options(values["tls-min-version"], values["tls-max-version"],
                          values["cipher-suites"])
    except TLSOptionError as exc:
        raise CommandLineError(str(exc)) from None
    return dict(
        cert_file=values["cert-file"] or None,
        key_file=values["key-file"] or None,
        trusted_ca_file=values["trusted-ca-file"] or None,
        client_cert_auth=values["client-cert-auth"],
        auto_tls=values["auto-tls"],
        tls_min_version=values["tls-min-version"],
        tls_max_version=values["tls-max-version"],
        cipher_suites=list(values["cipher-suites"]),
        self_signed_cert_validity=values["self-signed-cert-validity"],
    )


def _positive(values: dict[str, Any], name: str) -> Any:
    if values[name] <= 0:
        raise CommandLineError(f"--{name} must be positive (set to {_shown(BY_NAME[name], values[name])})")
    return values[name]


def build_config(settings: Settings) -> tuple[Config, LogSettings]:
    """The Config etcd's settings describe, or CommandLineError (one line) if etcd or a single
    etcdlite member cannot run with them."""
    values = {f.name: f.default for f in FLAGS}
    values.update(settings.values)
    settings.values = values
    _validate_like_etcd(values)
    _dispositions(settings)
    name = values["name"]
    try:
        member = bootstrap(name, values["initial-advertise-peer-urls"], values["initial-cluster"],
                           values["initial-cluster-token"])
    except BootstrapError as exc:
        raise CommandLineError(str(exc)) from None
    if len(member.members) > 1:
        others = ", ".join(sorted(set(member.members) - {name}))
        own = ",".join(f"{name}={url}" for url in member.peer_urls)
        raise CommandLineError(f"--initial-cluster names {len(member.members)} members (also {others}); "
                               f"etcdlite is a single-node server: give only this member "
                               f"(--initial-cluster {own})")
    data_dir = _data_dir(settings, name)
    tls_settings = _tls_settings(values)
    _check_https_urls(values)
    check_auth_token(values["auth-token"], values["auth-token-ttl"])
    try:
        parse_retention(values["auto-compaction-mode"], values["auto-compaction-retention"])
    except RetentionError as exc:
        raise CommandLineError(str(exc)) from None
    level = "debug" if values["debug"] else values["log-level"]
    outputs = values["log-outputs"] if "log-outputs" in settings.given or \
        "log-output" not in settings.given else values["log-output"]
    config = Config(
        name=name,
        data_dir=data_dir,
        listen_client_urls=values["listen-client-urls"],
        listen_client_http_urls=values["listen-client-http-urls"],
        listen_metrics_urls=values["listen-metrics-urls"],
        enable_grpc_gateway=values["enable-grpc-gateway"],
        enable_ui=values["enable-ui"],
        client_port_front=values["client-port-front"],
        advertise_client_urls=values["advertise-client-urls"] or None,
        initial_advertise_peer_urls=member.peer_urls,
        initial_cluster_token=values["initial-cluster-token"],
        max_request_bytes=_positive(values, "max-request-bytes"),
        max_txn_ops=_positive(values, "max-txn-ops"),
        quota_backend_bytes=_quota(settings, data_dir),
        watch_progress_notify_interval=_positive(values, "experimental-watch-progress-notify-interval"),
        log_level=level,
        time_control=values["enable-time-control"],
        initial_snapshot=values["initial-snapshot"] or None,
        auth_token=values["auth-token"],
        auth_token_ttl=values["auth-token-ttl"],
        bcrypt_cost=_bcrypt_cost(settings),
        auto_compaction_mode=values["auto-compaction-mode"],
        auto_compaction_retention=values["auto-compaction-retention"],
        **tls_settings,
    )
    return config, LogSettings(LOG_LEVELS[level], list(outputs))


def load(argv: list[str] | None = None,
         environ: Mapping[str, str] | None = None) -> tuple[Config, LogSettings, Settings]:
    settings = read_settings(sys.argv[1:] if argv is None else argv,
                             os.environ if environ is None else environ)
    config, log_settings = build_config(settings)
    return config, log_settings, settings


def parse_args(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """The Config for a command line (and environment); raises CommandLineError or Exit."""
    return load(argv, environ)[0]


# -- help and version -------------------------------------------------------------------------

_EFFECT_NOTE = {NOTICE: "accepted; changes nothing in etcdlite", REFUSE: "refused unless {harmless}",
                NOT_YET: "not supported yet"}


def help_text() -> str:
    lines = ["Usage:", "", "  etcdlite [flags]", "    Start an etcd-compatible (v3 API) single-node server.",
             "", "  etcdlite --version", "    Show the version of etcdlite and of the etcd it speaks.",
             "", "  etcdlite -h | --help", "    Show this help.", "",
             "Flags are etcd's: --flag=value, --flag value, -flag value; booleans as --flag or "
             "--flag=false.", "Each can be given as ETCD_<FLAG> (e.g. ETCD_DATA_DIR), or in "
             "--config-file (etcd's YAML keys).", "Stop the server with Ctrl-C (SIGINT) or SIGTERM."]
    for group in GROUPS:
        flags = [f for f in FLAGS if f.group == group and f.name != "version"]
        if not flags:
            continue
        lines += ["", f"{group}:"]
        for flag in flags:
            lines.append(f"  --{flag.name} '{flag.default_text()}'")
            text = flag.help
            if flag.effect == NOTICE:
                text += f" [ignored: {flag.reason}]"
            elif flag.effect == REFUSE:
                text += f" [only '{flag.default_text() or 'unset'}': {flag.reason}]"
            elif flag.effect == NOT_YET:
                text += f" [not supported yet: {flag.reason}]"
            lines.append(f"    {text}")
    lines += ["", "Accepted and ignored, as etcd does: "
              + ", ".join(f"--{f.name}" for f in FLAGS if f.effect == LEGACY) + "."]
    return "\n".join(lines)


def version_text() -> str:
    return "\n".join([f"etcdlite Version: {__version__}", f"etcd Version: {ETCD_VERSION}",
                      f"Python Version: {platform.python_version()}",
                      f"OS/Arch: {sys.platform}/{platform.machine()}"])


# -- running ----------------------------------------------------------------------------------

def setup_logging(settings: LogSettings) -> None:
    handlers: list[logging.Handler] = []
    for output in settings.outputs or ["default"]:
        if output in ("default", "stderr", ""):
            handlers.append(logging.StreamHandler(sys.stderr))
        elif output == "stdout":
            handlers.append(logging.StreamHandler(sys.stdout))
        else:
            handlers.append(logging.FileHandler(output))
    logging.basicConfig(level=settings.level, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


#: allocations between young collections in the standalone server (CPython's default: 700)
YOUNG_COLLECTION_THRESHOLD = 20_000


def _tune_gc() -> None:
    """The history is many small long-lived objects: full collections over them stall every client
    (measured: Put/Txn p99 at 64 clients halves with this). Objects loaded at start are frozen out
    of collection, and young collections run less often. Not much less: grpc.aio leaves three
    objects of cyclic garbage per call, and a young collection pauses the loop ~1.5 us for each
    one it frees (at 100,000, 60,000 at once: 90-170 ms, etcdctl check perf's slowest request;
    at 20,000: 15-20 ms, the same throughput). Only the standalone server does this; an embedded
    server leaves the host process's GC alone."""
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, 50, 100)


async def _serve(config: Config) -> None:
    from .runtime import Runtime
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runtime = Runtime(config, freeze_history=True)
    await runtime.start()
    _tune_gc()
    if config.time_control:
        log.warning("time control enabled: the clock moves only through "
                    "etcdlite.admin.v1.Admin/AdvanceClock")
    print(f"etcdlite: serving on {', '.join(runtime.client_urls)}", flush=True)
    stopped, failed = asyncio.ensure_future(stop.wait()), asyncio.ensure_future(runtime.failed.wait())
    await asyncio.wait((stopped, failed), return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    failed.cancel()
    await runtime.stop()
    if runtime.failure is not None:
        raise DiskFailure(f"stopped: the data dir refused a write ({runtime.failure}); every "
                          "write acknowledged before it is durable")


class DiskFailure(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    try:
        config, log_settings, settings = load(argv)
    except Exit as done:
        print(done.text)
        return 0
    except CommandLineError as exc:
        print(f"etcdlite: {exc}", file=sys.stderr)
        return exc.status
    setup_logging(log_settings)
    for level, text in settings.notes:
        log.log(level, text)
    try:
        with sigint_deferred():
            from .runtime import StartupError
    except KeyboardInterrupt:
        return 130
    try:
        asyncio.run(_serve(config))
    except (StartupError, DiskFailure) as exc:
        print(f"etcdlite: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
