"""Requests that could not be decoded, as transports hand them to the handlers."""

from __future__ import annotations


class Malformed:
    """A request message that could not be decoded (see :mod:`etcdlite.api.registration`)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class MalformedRequest(Exception):
    """Raised where a malformed message turns up in a request stream."""
