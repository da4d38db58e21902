"""etcdlite: an etcd-compatible (v3 API) single-node server.

What users reach for is exported here: ``from etcdlite import EtcdLite``. Names load lazily, so
that importing the pytest plugin (``etcdlite.testing.plugin``) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
#: the etcd release whose API and behaviour etcdlite presents (Status.version, /version)
ETCD_VERSION = "3.5.0"

_EXPORTS = {
    "EtcdLite": "etcdlite.embed",
    "Config": "etcdlite.config",
    "ManualClock": "etcdlite.clock",
    "Fault": "etcdlite.faults",
    "Snapshot": "etcdlite.snapshot",
    "SnapshotError": "etcdlite.snapshot",
    "StartupError": "etcdlite.runtime",
    "EtcdLiteFixture": "etcdlite.testing.fixtures",
}

__all__ = ["__version__", "ETCD_VERSION", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'etcdlite' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
