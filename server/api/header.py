"""The ResponseHeader every answer carries (reference §2)."""

from __future__ import annotations

from ..node import Node
from ..proto import rpc_pb2

ResponseHeader = rpc_pb2.ResponseHeader


def header(node: Node, revision: int) -> rpc_pb2.ResponseHeader:
    """A full header. Revision 0 leaves the field out, as etcd does for Cluster responses and
    compaction cancels."""
    built = ResponseHeader()
    fill_header(built, node, revision)
    return built


def fill_header(target: rpc_pb2.ResponseHeader, node: Node, revision: int) -> None:
    """Set a response's own header in place (for the hot KV calls: building a header and copying
    it into the response takes twice as long)."""
    target.cluster_id = node.cluster_id
    target.member_id = node.member_id
    target.revision = revision
    target.raft_term = node.raft_term
