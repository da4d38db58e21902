"""Generated etcd v3 protobuf/gRPC modules (etcdserverpb, mvccpb, authpb, v3lockpb, v3electionpb),
and etcdlite's own admin service (etcdlite.admin.v1).

The ``*_pb2.py`` / ``*_pb2_grpc.py`` files are produced from ``protos/*.proto`` by
``scripts/gen_protos.py`` and register into the private descriptor pool of
:mod:`etcdlite.proto._pool`. Do not edit them by hand; rerun the script.
"""
