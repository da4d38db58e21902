"""Command line: ``etcdlite`` / ``python -m etcdlite``, with etcd's flag names."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import re
import signal
import sys

# grpc core writes its own log lines to stderr (e.g. on a failed bind); errors here are one line.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

from . import __version__  # noqa: E402
from .config import (DEFAULT_CLIENT_URL, DEFAULT_CLUSTER_TOKEN,  # noqa: E402
                     DEFAULT_DATA_DIR, DEFAULT_PEER_URL, Config)
from .runtime import Runtime, StartupError  # noqa: E402

log = logging.getLogger("etcdlite")

_LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
               "error": logging.ERROR, "panic": logging.CRITICAL, "fatal": logging.CRITICAL}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, non-zero exit
        self.exit(2, f"etcdlite: {message}\n")


def _urls(value: str) -> list[str]:
    return [u.strip() for u in value.split(",") if u.strip()]


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return number


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def _duration(value: str) -> float:
    """A Go duration as etcd's flags take it ("100ms", "10m", "1m30s"), in seconds."""
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise argparse.ArgumentTypeError(f"invalid duration {value!r}")
    seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return seconds


def parse_args(argv: list[str] | None = None) -> Config:
    parser = _Parser(prog="etcdlite", description="An etcd-compatible v3 API server.")
    parser.add_argument("--name", default="default", help="human-readable member name")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR,
                        help=f"LMDB data directory (default ./{DEFAULT_DATA_DIR}); '' keeps data in memory")
    parser.add_argument("--memory", action="store_true", help="keep all data in memory (same as --data-dir '')")
    parser.add_argument("--listen-client-urls", type=_urls, default=[DEFAULT_CLIENT_URL])
    parser.add_argument("--advertise-client-urls", type=_urls, default=None)
    parser.add_argument("--initial-advertise-peer-urls", type=_urls, default=[DEFAULT_PEER_URL],
                        help="only used to derive the member ID, as etcd does")
    parser.add_argument("--initial-cluster-token", default=DEFAULT_CLUSTER_TOKEN)
    parser.add_argument("--max-request-bytes", type=_positive_int, default=1536 * 1024)
    parser.add_argument("--max-txn-ops", type=_positive_int, default=128)
    parser.add_argument("--quota-backend-bytes", type=int, default=0,
                        help="space quota of the data (0: etcd's default 2 GiB; negative: none)")
    parser.add_argument("--log-level", choices=sorted(_LOG_LEVELS), default="info")
    parser.add_argument("--experimental-watch-progress-notify-interval", type=_duration, default=600.0,
                        metavar="DURATION", help="period of progress notifications to watchers that asked (default 10m)")
    parser.add_argument("--enable-time-control", action="store_true",
                        help="for tests: run on a manual clock, moved only by the admin call "
                             "etcdlite.admin.v1.Admin/AdvanceClock (off: that call is refused)")
    parser.add_argument("--initial-snapshot", metavar="FILE", default=None,
                        help="for tests: start from an etcdlite snapshot file (refused unless the "
                             "data dir is empty or in memory)")
    parser.add_argument("--version", action="version", version=f"etcdlite {__version__}")
    args = parser.parse_args(argv)
    return Config(
        name=args.name,
        data_dir=None if args.memory or args.data_dir == "" else args.data_dir,
        listen_client_urls=args.listen_client_urls,
        advertise_client_urls=args.advertise_client_urls,
        initial_advertise_peer_urls=args.initial_advertise_peer_urls,
        initial_cluster_token=args.initial_cluster_token,
        max_request_bytes=args.max_request_bytes,
        max_txn_ops=args.max_txn_ops,
        quota_backend_bytes=args.quota_backend_bytes,
        watch_progress_notify_interval=args.experimental_watch_progress_notify_interval,
        log_level=args.log_level,
        time_control=args.enable_time_control,
        initial_snapshot=args.initial_snapshot,
    )


def _tune_gc() -> None:
    """The history is many small long-lived objects: full collections over them stall every client
    (measured: Put/Txn p99 at 64 clients halves with this). Objects loaded at start are frozen out
    of collection, and young collections run less often. Only the standalone server does this; an
    embedded server leaves the host process's GC alone."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


async def _serve(config: Config) -> None:
    runtime = Runtime(config)
    await runtime.start()
    _tune_gc()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if config.time_control:
        log.warning("time control enabled: the clock moves only through "
                    "etcdlite.admin.v1.Admin/AdvanceClock")
    print(f"etcdlite: serving on {', '.join(runtime.client_urls)}", flush=True)
    await stop.wait()
    await runtime.stop()


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(level=_LOG_LEVELS[config.log_level], stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_serve(config))
    except StartupError as exc:
        print(f"etcdlite: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
