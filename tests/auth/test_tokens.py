"""Simple tokens and JWTs, as etcd issues and checks them."""

from __future__ import annotations

import re

import pytest

from etcdlite.auth import passwords
from etcdlite.auth.tokens import AuthOptionsError, JwtTokens, SimpleTokens, parse_auth_token_option


def test_simple_tokens_look_like_etcds_and_expire_after_the_ttl_since_last_use():
    now = [100.0]
    tokens = SimpleTokens(ttl=300, clock=lambda: now[0])
    token = tokens.assign("alice", 5, index=13)
    assert re.fullmatch(r"[a-zA-Z]{16}\.13", token)
    now[0] += 299
    assert tokens.info(token, 7).username == "alice"
    now[0] += 299  # renewed by the use above
    assert tokens.info(token, 7).revision == 7
    now[0] += 300
    assert tokens.info(token, 7) is None


def test_simple_tokens_of_a_user_can_be_invalidated():
    tokens = SimpleTokens()
    a, b = tokens.assign("alice", 1, 1), tokens.assign("bob", 1, 2)
    tokens.invalidate_user("alice")
    assert tokens.info(a, 1) is None and tokens.info(b, 1) is not None
    tokens.disable()
    assert tokens.info(b, 1) is None


def _rsa_pems():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def test_jwt_carries_user_and_revision_and_expires():
    private, public = _rsa_pems()
    now = [1_000_000.0]
    tokens = JwtTokens("RS256", private, public, ttl=60, clock=lambda: now[0])
    token = tokens.assign("alice", 9, index=1)
    # PyJWT checks expiry against the real clock: this one expired long ago
    assert tokens.info(token, 9) is None
    now[0] = __import__("time").time()
    info = tokens.info(tokens.assign("alice", 9, index=1), 12)
    assert (info.username, info.revision) == ("alice", 9)
    assert tokens.info(token[:-2] + "xx", 9) is None


def test_auth_token_option_parsing(tmp_path):
    private, public = _rsa_pems()
    (tmp_path / "k").write_bytes(private)
    (tmp_path / "k.pub").write_bytes(public)
    read = lambda path: open(path, "rb").read()  # noqa: E731
    provider = parse_auth_token_option(
        f"jwt,pub-key={tmp_path / 'k.pub'},priv-key={tmp_path / 'k'},sign-method=RS256,ttl=10m",
        300, read, lambda s: 600.0)
    assert isinstance(provider, JwtTokens) and provider.ttl == 600.0
    assert isinstance(parse_auth_token_option("simple", 300, read, float), SimpleTokens)
    for bad in ("simple,x", "jwt,a=1,a=2", "opaque", "jwt,sign-method=XX256,priv-key=" + str(tmp_path / "k")):
        with pytest.raises(AuthOptionsError):
            parse_auth_token_option(bad, 300, read, float)


def test_passwords_hash_and_check_with_bcrypt():
    hashed = passwords.hash_password("secret", cost=4)
    assert hashed.startswith(b"$2b$04$")
    assert passwords.check_password("secret", hashed)
    assert not passwords.check_password("wrong", hashed)
    assert not passwords.check_password("secret", b"")


def test_an_empty_auth_token_option_means_no_tokens_at_all():
    from etcdlite import errors
    from etcdlite.auth.tokens import NoTokens, parse_auth_token_option

    provider = parse_auth_token_option("", 300, lambda path: b"", lambda text: 0.0)
    assert isinstance(provider, NoTokens)
    assert provider.info("anything", 3) is None
    with pytest.raises(errors.EtcdError) as caught:
        provider.assign("root", 3, 7)
    assert caught.value == errors.AUTH_FAILED
