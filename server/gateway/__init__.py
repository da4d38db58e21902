"""etcd's HTTP/JSON gateway (grpc-gateway) as a second transport over the same handlers as gRPC."""

from .gateway import Gateway

__all__ = ["Gateway"]
