"""Auth tokens, as etcd's ``--auth-token`` makes them: ``simple`` (the default) and ``jwt``.

Simple tokens are ``<16 random letters>.<index>`` held in memory only (a restart forgets them, as
etcd 3.5 does) and expire ``ttl`` seconds after their last use (``--auth-token-ttl``, 300 s); the
auth revision they report is always the current one, so permission changes apply to them at once.
JWTs are signed with the configured key and carry the username, the auth revision when issued and
an expiry; any later auth change makes them "old" (etcd's ErrAuthOldRevision).
"""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from .. import errors
from .store import AuthInfo

SIMPLE_TOKEN_LENGTH = 16
_LETTERS = string.ascii_lowercase + string.ascii_uppercase
DEFAULT_TOKEN_TTL = 300.0


class TokenProvider(Protocol):
    def assign(self, username: str, revision: int, index: int) -> str: ...
    def info(self, token: str, revision: int) -> AuthInfo | None: ...
    def invalidate_user(self, username: str) -> None: ...
    def disable(self) -> None: ...


class AuthOptionsError(ValueError):
    """``--auth-token`` that etcd would refuse ("auth: invalid auth options" and friends)."""


@dataclass
class _Simple:
    username: str
    expires: float


class SimpleTokens:
    def __init__(self, ttl: float = DEFAULT_TOKEN_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl if ttl > 0 else DEFAULT_TOKEN_TTL
        self._clock = clock
        self._tokens: dict[str, _Simple] = {}

    def assign(self, username: str, revision: int, index: int) -> str:
        prefix = "".join(secrets.choice(_LETTERS) for _ in range(SIMPLE_TOKEN_LENGTH))
        token = f"{prefix}.{index}"
        self._tokens[token] = _Simple(username, self._clock() + self.ttl)
        return token

    def info(self, token: str, revision: int) -> AuthInfo | None:
        entry = self._tokens.get(token)
        if entry is None:
            return None
        now = self._clock()
        if now >= entry.expires:
            del self._tokens[token]
            return None
        entry.expires = now + self.ttl  # each use renews it
        return AuthInfo(entry.username, revision)

    def invalidate_user(self, username: str) -> None:
        for token in [t for t, e in self._tokens.items() if e.username == username]:
            del self._tokens[token]

    def disable(self) -> None:
        self._tokens.clear()


class NoTokens:
    """``--auth-token ""``: no tokens at all (etcd's tokenNop): Authenticate fails, and any token a
    client sends is invalid; users can still be known by their client certificates."""

    def assign(self, username: str, revision: int, index: int) -> str:
        raise errors.AUTH_FAILED

    def info(self, token: str, revision: int) -> AuthInfo | None:
        return None

    def invalidate_user(self, username: str) -> None:
        pass

    def disable(self) -> None:
        pass


class JwtTokens:
    """etcd's ``jwt,pub-key=...,priv-key=...,sign-method=RS256,ttl=5m`` tokens (PyJWT)."""

    def __init__(self, sign_method: str, private_key: bytes | None, public_key: bytes | None,
                 ttl: float = DEFAULT_TOKEN_TTL, clock: Callable[[], float] = time.time) -> None:
        import jwt  # PyJWT, loaded only when JWTs are configured

        self._jwt = jwt
        self.sign_method = sign_method
        self.ttl = ttl
        self._clock = clock
        self._signing_key, self._verifying_key = _jwt_keys(sign_method, private_key, public_key)

    def assign(self, username: str, revision: int, index: int) -> str:
        if self._signing_key is None:
            raise AuthOptionsError("auth: token signing attempted with verify-only key")
        claims = {"username": username, "revision": revision, "exp": int(self._clock() + self.ttl)}
        return self._jwt.encode(claims, self._signing_key, algorithm=self.sign_method)

    def info(self, token: str, revision: int) -> AuthInfo | None:
        try:
            claims = self._jwt.decode(token, self._verifying_key, algorithms=[self.sign_method],
                                      options={"require": ["exp"]})
        except self._jwt.PyJWTError:
            return None
        username, rev = claims.get("username"), claims.get("revision")
        if not isinstance(username, str) or not isinstance(rev, (int, float)):
            return None
        return AuthInfo(username, int(rev))

    def invalidate_user(self, username: str) -> None:
        """Signed tokens cannot be recalled; etcd relies on the revision check instead."""

    def disable(self) -> None:
        pass


def _jwt_keys(method: str, private_pem: bytes | None, public_pem: bytes | None):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if method.startswith("HS"):
        if not private_pem:
            raise AuthOptionsError("auth: missing key data")
        return private_pem, private_pem
    if not method.startswith(("RS", "PS", "ES")):
        raise AuthOptionsError("auth: invalid auth signature method")
    want = ec.EllipticCurvePrivateKey if method.startswith("ES") else rsa.RSAPrivateKey
    private = public = None
    if private_pem:
        private = serialization.load_pem_private_key(private_pem, password=None)
        if not isinstance(private, want):
            raise AuthOptionsError("auth: invalid auth signature method")
    if public_pem:
        public = serialization.load_pem_public_key(public_pem)
    if private is None and public is None:
        raise AuthOptionsError("auth: missing key data")
    if private is not None and public is not None and \
            private.public_key().public_numbers() != public.public_numbers():
        raise AuthOptionsError("auth: public and private keys don't match")
    return private, public if public is not None else private.public_key()


def parse_auth_token_option(value: str, ttl: float, read_file: Callable[[str], bytes],
                            parse_duration: Callable[[str], float],
                            simple_clock: Callable[[], float] = time.monotonic) -> TokenProvider:
    """etcd's ``--auth-token`` value: ``simple`` or ``jwt,key=value,...`` (keys ``sign-method``,
    ``pub-key``, ``priv-key``, ``ttl``). Simple tokens expire by ``simple_clock`` (the server's
    clock, so a manual clock moves them too); JWTs carry wall-clock expiry times."""
    kind, *pairs = value.split(",")
    options: dict[str, str] = {}
    for pair in pairs:
        name, sep, val = pair.partition("=")
        if not sep or "=" in val or name in options:
            raise AuthOptionsError("auth: invalid auth options")
        options[name] = val
    if kind == "simple":
        return SimpleTokens(ttl, simple_clock)
    if kind == "":
        return NoTokens()
    if kind == "jwt":
        jwt_ttl = parse_duration(options["ttl"]) if options.get("ttl") else DEFAULT_TOKEN_TTL
        method = options.get("sign-method", "")
        private = read_file(options["priv-key"]) if options.get("priv-key") else None
        public = read_file(options["pub-key"]) if options.get("pub-key") else None
        return JwtTokens(method, private, public, jwt_ttl)
    raise AuthOptionsError("auth: invalid auth options")


def token_provider(value: str, ttl: float, simple_clock: Callable[[], float]) -> TokenProvider:
    """The provider ``--auth-token`` asks for, reading JWT key files (etcd's NewTokenProvider);
    raises AuthOptionsError for a value etcd refuses."""
    from ..goflags import parse_duration

    def read_file(path: str) -> bytes:
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as exc:
            raise AuthOptionsError(f"open {path}: {(exc.strerror or str(exc)).lower()}") from None

    return parse_auth_token_option(value, float(ttl), read_file, parse_duration, simple_clock)
