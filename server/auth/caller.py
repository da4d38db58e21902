"""Who is asking, as a transport presents it: the credential a request came with.

A transport adapter (gRPC, the HTTP gateway) builds a :class:`Caller` from what it sees — the token
of gRPC metadata ``token`` or HTTP header ``authorization``, the common name of a verified TLS client
certificate — and passes it down the request path, which turns it into an
:class:`~etcdlite.auth.store.AuthInfo` (or etcd's "invalid auth token") where a request needs one.
"""

from __future__ import annotations

from typing import Callable


class Caller:
    """A request's credentials. ``common_name`` may be given as a function, so a transport can put
    off reading the peer certificate until the request path asks for it (only with auth enabled
    and no token)."""

    __slots__ = ("token", "_common_name", "internal")

    def __init__(self, token: str | None = None,
                 common_name: str | None | Callable[[], str | None] = None,
                 internal: bool = False) -> None:
        self.token = token
        self._common_name = common_name
        self.internal = internal

    @property
    def common_name(self) -> str | None:
        value = self._common_name
        if callable(value):
            value = self._common_name = value()
        return value

    def __repr__(self) -> str:
        if self.internal:
            return "Caller(internal)"
        return f"Caller(token={'…' if self.token else None}, common_name={self._common_name!r})"


#: a request with no credentials
NOBODY = Caller()
#: the server itself (lease expiry, cleanup of abandoned lock keys): never refused by auth, as
#: etcd's own requests run with root's credentials
INTERNAL = Caller(internal=True)
