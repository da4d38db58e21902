"""gRPC servicers: thin translators between etcd's protobuf messages and the node."""
