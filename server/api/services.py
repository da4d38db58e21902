"""The services etcdlite serves: one handler object per etcd service, shared by every transport
(the gRPC adapter and the HTTP gateway serve the same handlers)."""

from __future__ import annotations

from typing import Any, NamedTuple

from google.protobuf.descriptor import ServiceDescriptor

from ..node import Node
from ..proto import etcdlite_admin_pb2, rpc_pb2, v3election_pb2, v3lock_pb2
from .admin_service import AdminService
from .auth_service import AuthService
from .cluster_service import ClusterService
from .election_service import ElectionService
from .kv_service import KVService
from .lease_service import LeaseService
from .lock_service import LockService
from .maintenance_service import MaintenanceService
from .watch_service import WatchService


class Served(NamedTuple):
    handlers: Any
    descriptor: ServiceDescriptor


def etcd_services(node: Node) -> list[Served]:
    """etcd's own services (etcdserverpb, v3lockpb, v3electionpb), each with its handlers."""
    services = rpc_pb2.DESCRIPTOR.services_by_name
    return [
        Served(KVService(node), services["KV"]),
        Served(MaintenanceService(node), services["Maintenance"]),
        Served(ClusterService(node), services["Cluster"]),
        Served(LeaseService(node), services["Lease"]),
        Served(WatchService(node), services["Watch"]),
        Served(AuthService(node), services["Auth"]),
        Served(LockService(node), v3lock_pb2.DESCRIPTOR.services_by_name["Lock"]),
        Served(ElectionService(node), v3election_pb2.DESCRIPTOR.services_by_name["Election"]),
    ]


def admin_service(node: Node) -> Served:
    """etcdlite's own admin service (time control), gRPC only."""
    return Served(AdminService(node, node.config.time_control),
                  etcdlite_admin_pb2.DESCRIPTOR.services_by_name["Admin"])
