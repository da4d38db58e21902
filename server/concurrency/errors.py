"""Errors of the Lock and Election services. All of them reach clients with code Unknown."""

from __future__ import annotations

from ..errors import EtcdError

SESSION_EXPIRED = "mutex: session is expired"
NO_LEADER = "election: no leader"
NOT_LEADER = "election: not leader"
LEADER_REQUIRED = '"leader" field must be provided'


def unknown(message: str) -> EtcdError:
    return EtcdError("UNKNOWN", message)


def as_unknown(exc: EtcdError) -> EtcdError:
    """etcd's embedded client turns every KV error into a plain error: same text, code Unknown."""
    return EtcdError("UNKNOWN", exc.message)
