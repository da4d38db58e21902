"""Test support: the pytest plugin (:mod:`etcdlite.testing.plugin`, registered as the ``etcdlite``
pytest11 entry point) and the object its fixtures give to tests (:class:`EtcdLiteFixture`)."""

from __future__ import annotations

from typing import Any

__all__ = ["EtcdLiteFixture"]


def __getattr__(name: str) -> Any:  # imported lazily: loading the plugin must stay cheap
    if name == "EtcdLiteFixture":
        from .fixtures import EtcdLiteFixture
        return EtcdLiteFixture
    raise AttributeError(name)
