"""etcdlite: an etcd-compatible (v3 gRPC API) single-node server."""

__version__ = "0.1.0"
