"""bcrypt password hashes, as etcd stores them (``--bcrypt-cost``, default 10).

Hashing and checking take tens of milliseconds by design: callers run these in a worker thread,
never on the event loop that serves every client.
"""

from __future__ import annotations

import bcrypt

DEFAULT_COST = 10
MIN_COST, MAX_COST = 4, 31  # golang.org/x/crypto/bcrypt's MinCost and MaxCost


def hash_password(password: str, cost: int = DEFAULT_COST) -> bytes:
    # bcrypt looks at 72 bytes at most; the Python package refuses longer input where Go's
    # x/crypto (before 2024) silently cut it, and etcd 3.5 links the cutting one.
    return bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(rounds=cost))


def check_password(password: str, hashed: bytes) -> bool:
    if not hashed:
        return False
    try:
        return bcrypt.checkpw(password.encode()[:72], hashed)
    except ValueError:  # not a bcrypt hash
        return False
