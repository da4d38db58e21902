"""The single member's identity, derived as etcd derives it.

member ID = first 8 bytes (big-endian) of SHA-1(sorted peer URLs joined + cluster token);
cluster ID = first 8 bytes of SHA-1 over the sorted member IDs as 8-byte big-endian integers.
With etcd's defaults this gives etcd's well-known IDs, so tools print what they would for a default
single-node etcd.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass


def member_id(peer_urls: list[str], cluster_token: str) -> int:
    data = "".join(sorted(peer_urls)).encode() + cluster_token.encode()
    return struct.unpack(">Q", hashlib.sha1(data).digest()[:8])[0]


def cluster_id(member_ids: list[int]) -> int:
    data = b"".join(struct.pack(">Q", m) for m in sorted(member_ids))
    return struct.unpack(">Q", hashlib.sha1(data).digest()[:8])[0]


@dataclass
class Member:
    id: int
    name: str
    peer_urls: list[str]
    client_urls: list[str]
    is_learner: bool = False
