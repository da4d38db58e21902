"""``etcdlite`` / ``python -m etcdlite``: the command line (:mod:`etcdlite.cli`)."""

from __future__ import annotations

import os
import sys

# grpc core writes its own log lines to stderr (e.g. on a failed bind); errors here are one line.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

try:
    from .interrupts import sigint_deferred

    with sigint_deferred():
        from .cli import main, parse_args  # noqa: E402,F401
except KeyboardInterrupt:  # Ctrl-C while the modules loaded
    sys.exit(130)


def run() -> None:
    """Console-script entry point."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    run()
